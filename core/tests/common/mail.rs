//! A mailer that keeps what it is given, as a platform's mail service would receive it, so tests
//! can read the codes the node mails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pocketpds_core::mail::{Mailer, Message, SendFuture};

#[derive(Default, Clone)]
pub struct Outbox {
    pub messages: Arc<Mutex<Vec<Message>>>,
}

impl Mailer for Outbox {
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(async move {
            self.messages.lock().unwrap().push(message.clone());
            Ok(())
        })
    }

    fn describe(&self) -> String {
        "test outbox".into()
    }
}

impl Outbox {
    /// How many messages arrived so far.
    pub fn count(&self) -> usize {
        self.messages.lock().unwrap().len()
    }

    /// Waits (up to 5 s) for the `n`-th message (from 1) and returns it.
    pub async fn nth(&self, n: usize) -> Message {
        for _ in 0..100 {
            if let Some(m) = self.messages.lock().unwrap().get(n - 1) {
                return m.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("message {n} never arrived");
    }

    /// The code (`XXXXX-XXXXX`) of the `n`-th message.
    pub async fn code(&self, n: usize) -> (String, Message) {
        let m = self.nth(n).await;
        let code = m
            .text
            .split_whitespace()
            .find(|w| w.len() == 11 && w.as_bytes()[5] == b'-')
            .unwrap_or_else(|| panic!("no code in {:?}", m.text))
            .to_owned();
        (code, m)
    }
}
