//! [`SmtpMailer`]: mail through an SMTP server with `lettre` (tokio, rustls with the Mozilla roots).
//! The daemon's transport; compiled only with the `smtp` cargo feature.
//!
//! `PDS_EMAIL_SMTP_URL` takes lettre's (and the reference PDS's) URL forms: `smtps://user:pass@host`
//! (TLS from the start, port 465), `smtp://user:pass@host?tls=required` (STARTTLS, port 587), and
//! plain `smtp://host:port` (no encryption: for a relay on the same machine).

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{MailError, Mailer, Message, SendFuture};

/// How long one SMTP conversation may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// A mailer that hands messages to an SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
}

impl SmtpMailer {
    /// A mailer for the server at `url`, sending as `from` (`PDS_EMAIL_FROM_ADDRESS`, an address
    /// or `Name <address>`).
    pub fn new(url: &str, from: &str) -> Result<SmtpMailer, MailError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| MailError::Config(format!("PDS_EMAIL_SMTP_URL: {e}")))?;
        let server = format!(
            "{}:{}",
            parsed.host_str().unwrap_or("?"),
            parsed
                .port()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "default port".into())
        );
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Config(format!("PDS_EMAIL_SMTP_URL: {e}")))?
            .timeout(Some(TIMEOUT))
            .build();
        let from: Mailbox = from
            .parse()
            .map_err(|e| MailError::Config(format!("PDS_EMAIL_FROM_ADDRESS: {e}")))?;
        Ok(SmtpMailer {
            transport,
            from,
            server,
        })
    }

    fn build(&self, message: &Message) -> Result<lettre::Message, MailError> {
        let to: Mailbox = message
            .to
            .parse()
            .map_err(|e| MailError::Rejected(format!("recipient {}: {e}", message.to)))?;
        lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|e| MailError::Rejected(e.to_string()))
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(async move {
            let email = self.build(message)?;
            match self.transport.send(email).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(MailError::Rejected(e.to_string())),
                Err(e) => Err(MailError::Transient(e.to_string())),
            }
        })
    }

    fn describe(&self) -> String {
        format!("SMTP {}", self.server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_configuration_errors() {
        assert!(matches!(
            SmtpMailer::new("not a url", "pds@example.com"),
            Err(MailError::Config(_))
        ));
        assert!(matches!(
            SmtpMailer::new("smtp://127.0.0.1:2525", "not an address"),
            Err(MailError::Config(_))
        ));
        let ok = SmtpMailer::new("smtp://127.0.0.1:2525", "PDS <pds@example.com>").unwrap();
        assert_eq!(ok.describe(), "SMTP 127.0.0.1:2525");
    }
}
