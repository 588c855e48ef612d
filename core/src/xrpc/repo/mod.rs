//! `com.atproto.repo.*`: reading and writing the records of a repository.

pub mod account;
pub mod apply_writes;
pub mod create_record;
pub mod delete_record;
pub mod describe_repo;
pub mod get_record;
pub mod import_repo;
pub mod input;
pub mod list_missing_blobs;
pub mod list_records;
pub mod put_record;
pub mod record;
pub mod upload_blob;
