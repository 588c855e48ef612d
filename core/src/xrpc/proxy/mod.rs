//! The XRPC side of service proxying: every `/xrpc/<method>` this server does not answer itself
//! comes here ([`pipethrough`]); it checks the caller, finds the service ([`crate::proxy`]), makes
//! the account's service token and forwards the call. The account's own reads are patched with
//! what the app view has not indexed yet ([`read_after_write`]).

pub mod pipethrough;
pub mod read_after_write;
