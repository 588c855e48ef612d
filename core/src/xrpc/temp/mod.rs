//! `com.atproto.temp.*`: the reference's provisional methods.

pub mod check_signup_queue;
