//! `com.atproto.sync.*`: repositories and records as CAR files, and where repositories stand.

pub mod get_latest_commit;
pub mod get_repo;
pub mod repo_access;
