//! `com.atproto.server.*`: the server's description, accounts and sessions.

pub mod describe_server;
