//! `dev.pocketpds.node.*`: what a node tells about itself and its cluster (for `pocketpds status`,
//! the status page and monitoring).

pub mod get_status;
