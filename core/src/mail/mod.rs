//! Mail to the people the node hosts: the one-time codes of email confirmation, email change,
//! password reset and account deletion, and the operator's messages.
//!
//! - [`Mailer`]: what hands a message over — SMTP in the daemon ([`smtp`], behind the `smtp` cargo
//!   feature, which only the daemon turns on: the phone library stays without `lettre`), a
//!   platform's mail service through the bindings, or [`LogMailer`], which writes messages to the
//!   node's log when nothing else is configured (as the reference PDS does without SMTP).
//! - [`Postman`]: sends in the background, after the request's database work is committed, with a
//!   few retries and growing pauses. A request that causes mail answers the same whether the
//!   delivery succeeds, fails or has nothing to deliver (a password reset for an unknown email).
//! - [`message`]: the messages, each in plain text and HTML.
//!
//! Codes are written to the log only by [`LogMailer`]; with a real transport the log says that a
//! message was sent and to whom, never its content.

pub mod message;
mod postman;
#[cfg(feature = "smtp")]
pub mod smtp;

use std::future::Future;
use std::pin::Pin;

pub use message::Message;
pub use postman::Postman;

/// Why a message could not be handed over.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The transport is not usable (a bad URL or sender, a refused login): retrying will not help.
    #[error("mail transport: {0}")]
    Config(String),
    /// This message cannot be sent (an address the transport refuses).
    #[error("message refused: {0}")]
    Rejected(String),
    /// The transport failed for now (connection, timeout, a temporary SMTP answer): worth retrying.
    #[error("mail delivery failed: {0}")]
    Transient(String),
}

impl MailError {
    /// Whether another attempt may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, MailError::Transient(_))
    }
}

/// A boxed future of a send, so that [`Mailer`] can be used as a trait object.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;

/// What hands a message over to be delivered.
pub trait Mailer: Send + Sync {
    /// Sends `message` to its recipient.
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a>;

    /// Whether the messages reach people through a real transport (then the log never shows
    /// their content).
    fn delivers(&self) -> bool {
        true
    }

    /// A short description for the start-up log (`SMTP smtp.example.com:587`).
    fn describe(&self) -> String;
}

/// The mailer of a node without a transport: writes each message's text to the node's log, where
/// the operator of a personal node can read the codes.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogMailer;

impl Mailer for LogMailer {
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(async move {
            log::info!(
                "mail to {} (no mail transport is configured, so it is written here)\n\
                 Subject: {}\n\n{}",
                message.to,
                message.subject,
                message.text
            );
            Ok(())
        })
    }

    fn delivers(&self) -> bool {
        false
    }

    fn describe(&self) -> String {
        "the node's log (no PDS_EMAIL_SMTP_URL)".into()
    }
}
