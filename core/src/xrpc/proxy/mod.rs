//! The XRPC side of service proxying: every `/xrpc/<method>` this server does not answer itself
//! comes here ([`pipethrough`]); it checks the caller, finds the service ([`crate::proxy`]), makes
//! the account's service token and forwards the call.

pub mod pipethrough;
