//! `com.atproto.sync.*`: repositories and records as CAR files, and where repositories stand.

pub mod car_stream;
pub mod get_blob;
pub mod get_blocks;
pub mod get_checkout;
pub mod get_head;
pub mod get_latest_commit;
pub mod get_record;
pub mod get_repo;
pub mod get_repo_status;
pub mod list_blobs;
pub mod list_repos;
pub mod repo_access;
pub mod subscribe_repos;
