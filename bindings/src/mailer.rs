//! [`Mailer`]: the app hands the node's mail (one-time codes for email confirmation, password reset,
//! account deletion, PLC operations) to the platform — a mail API of its own server, a push to the
//! owner's device — or refuses it with a reason. Without one, the node writes each message to its
//! log, as a daemon without SMTP does.

use std::sync::Arc;

use pocketpds_core::mail::{MailError, Message, SendFuture};

use crate::error::PdsError;
use crate::guard;

/// A message the node sends to an account owner.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MailMessage {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

/// The app's mail transport. Called on a worker thread of the node, never on the caller's thread;
/// an error refuses the message (`PdsError::Refused` with a reason is shown to the node's log).
#[uniffi::export(foreign)]
pub trait Mailer: Send + Sync {
    /// Delivers `message`, or fails saying why.
    fn send(&self, message: MailMessage) -> Result<(), PdsError>;
}

/// The app's mailer as the core's.
pub(crate) struct ForeignMailer(pub Arc<dyn Mailer>);

impl pocketpds_core::mail::Mailer for ForeignMailer {
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        let mailer = Arc::clone(&self.0);
        let message = MailMessage {
            to: message.to.clone(),
            subject: message.subject.clone(),
            text: message.text.clone(),
            html: message.html.clone(),
        };
        Box::pin(async move {
            let sent = tokio::task::spawn_blocking(move || {
                guard::catch("Mailer.send", || mailer.send(message))
            })
            .await
            .map_err(|e| MailError::Transient(format!("mailer task: {e}")))?;
            sent.map_err(|e| MailError::Rejected(e.to_string()))
        })
    }

    fn describe(&self) -> String {
        "the app's mailer".into()
    }
}
