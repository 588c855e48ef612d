//! [`Postman`]: background delivery with retries.

use std::sync::Arc;
use std::time::Duration;

use super::{LogMailer, Mailer, Message};

/// How many times a message is tried in all.
pub const ATTEMPTS: u32 = 4;
/// The pause after the first failure; each next pause is four times longer (1 s, 4 s, 16 s).
const FIRST_PAUSE: Duration = Duration::from_secs(1);

/// Delivers messages through a [`Mailer`] in background tasks, retrying transient failures.
#[derive(Clone)]
pub struct Postman {
    mailer: Arc<dyn Mailer>,
    first_pause: Duration,
}

impl std::fmt::Debug for Postman {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postman")
            .field("mailer", &self.mailer.describe())
            .finish()
    }
}

impl Default for Postman {
    fn default() -> Self {
        Postman::new(Arc::new(LogMailer))
    }
}

impl Postman {
    /// A postman handing messages to `mailer`.
    pub fn new(mailer: Arc<dyn Mailer>) -> Postman {
        Postman {
            mailer,
            first_pause: FIRST_PAUSE,
        }
    }

    /// The same postman with a different first pause between attempts (tests).
    pub fn with_first_pause(mut self, pause: Duration) -> Postman {
        self.first_pause = pause;
        self
    }

    /// Whether messages reach people (else they go to the log).
    pub fn delivers(&self) -> bool {
        self.mailer.delivers()
    }

    /// What the messages go through, for the start-up log.
    pub fn describe(&self) -> String {
        self.mailer.describe()
    }

    /// Sends `message` in the background (call it once the request's database work is
    /// committed); failures are logged, never shown to the requester.
    pub fn post(&self, message: Message) {
        let postman = self.clone();
        tokio::spawn(async move {
            postman.deliver(&message).await;
        });
    }

    /// Sends `message` now, retrying transient failures with growing pauses; returns whether it
    /// was handed over.
    pub async fn deliver(&self, message: &Message) -> bool {
        let mut pause = self.first_pause;
        for attempt in 1..=ATTEMPTS {
            match self.mailer.send(message).await {
                Ok(()) => {
                    if self.mailer.delivers() {
                        log::info!("mail \"{}\" sent to {}", message.subject, message.to);
                    }
                    return true;
                }
                Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                    log::warn!(
                        "mail to {} failed (attempt {attempt} of {ATTEMPTS}, next in {pause:?}): {e}",
                        message.to
                    );
                    tokio::time::sleep(pause).await;
                    pause *= 4;
                }
                Err(e) => {
                    log::error!("mail to {} not sent: {e}", message.to);
                    return false;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{MailError, SendFuture};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A transport that fails a number of times before it accepts.
    struct Flaky {
        failures: u32,
        calls: AtomicU32,
        permanent: bool,
    }

    impl Mailer for Flaky {
        fn send<'a>(&'a self, _: &'a Message) -> SendFuture<'a> {
            Box::pin(async move {
                let n = self.calls.fetch_add(1, Ordering::SeqCst);
                if n < self.failures {
                    return Err(if self.permanent {
                        MailError::Rejected("no such user".into())
                    } else {
                        MailError::Transient("connection refused".into())
                    });
                }
                Ok(())
            })
        }

        fn describe(&self) -> String {
            "flaky".into()
        }
    }

    fn message() -> Message {
        crate::mail::message::operator_message("a@example.com", "s", "t")
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_the_message_goes() {
        let flaky = Arc::new(Flaky {
            failures: 2,
            calls: AtomicU32::new(0),
            permanent: false,
        });
        let postman = Postman::new(flaky.clone()).with_first_pause(Duration::from_millis(5));
        assert!(postman.deliver(&message()).await);
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_refused_message_is_not_retried_and_retries_end() {
        let refused = Arc::new(Flaky {
            failures: 10,
            calls: AtomicU32::new(0),
            permanent: true,
        });
        let postman = Postman::new(refused.clone()).with_first_pause(Duration::from_millis(1));
        assert!(!postman.deliver(&message()).await);
        assert_eq!(refused.calls.load(Ordering::SeqCst), 1);
        let down = Arc::new(Flaky {
            failures: 10,
            calls: AtomicU32::new(0),
            permanent: false,
        });
        let postman = Postman::new(down.clone()).with_first_pause(Duration::from_millis(1));
        assert!(!postman.deliver(&message()).await);
        assert_eq!(down.calls.load(Ordering::SeqCst), ATTEMPTS);
    }
}
