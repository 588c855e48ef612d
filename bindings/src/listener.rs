//! [`NodeListener`]: the app hears of the node's status changes and log lines. Events are delivered
//! in order on one thread per node (`pocketpds-events`), never on the thread that caused them, so a
//! slow or failing listener cannot block or break the node: log lines beyond [`MAX_QUEUED_LOGS`]
//! waiting for the listener are dropped (and counted), a listener's error or panic is ignored.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::PdsError;
use crate::types::{LogLevel, NodeStatus};

/// How many log lines may wait for the listener before newer ones are dropped.
pub const MAX_QUEUED_LOGS: usize = 1024;

/// Receives a node's events. Implemented by the app (Kotlin, Swift); called on the node's event
/// thread.
#[uniffi::export(foreign)]
pub trait NodeListener: Send + Sync {
    /// The node's status changed.
    fn on_status(&self, status: NodeStatus) -> Result<(), PdsError>;
    /// A log line at or above the level given to `init_logging`.
    fn on_log(&self, level: LogLevel, target: String, message: String) -> Result<(), PdsError>;
}

enum Event {
    Status(NodeStatus),
    Log {
        level: LogLevel,
        target: String,
        message: String,
    },
}

struct Shared {
    listener: Mutex<Option<Arc<dyn NodeListener>>>,
    queued_logs: AtomicUsize,
    dropped_logs: AtomicUsize,
}

/// Delivers one node's events to its listener, on a thread started with the first listener.
pub(crate) struct Dispatcher {
    shared: Arc<Shared>,
    sender: Mutex<Option<Sender<Event>>>,
}

/// Locks `mutex`, recovering the data of a holder that panicked (the data stays consistent: every
/// critical section here is a single assignment or clone).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Dispatcher {
    /// A dispatcher with no listener (and no thread yet).
    pub(crate) fn new() -> Arc<Dispatcher> {
        Arc::new(Dispatcher {
            shared: Arc::new(Shared {
                listener: Mutex::new(None),
                queued_logs: AtomicUsize::new(0),
                dropped_logs: AtomicUsize::new(0),
            }),
            sender: Mutex::new(None),
        })
    }

    /// Replaces the listener (`None` removes it). The first listener starts the event thread.
    pub(crate) fn set_listener(
        &self,
        listener: Option<Arc<dyn NodeListener>>,
    ) -> Result<(), PdsError> {
        let wanted = listener.is_some();
        *lock(&self.shared.listener) = listener;
        if wanted {
            let mut sender = lock(&self.sender);
            if sender.is_none() {
                let (tx, rx) = mpsc::channel();
                let shared = self.shared.clone();
                std::thread::Builder::new()
                    .name("pocketpds-events".into())
                    .spawn(move || deliver_all(&shared, rx))
                    .map_err(|e| {
                        PdsError::internal(format!("cannot start the event thread: {e}"))
                    })?;
                *sender = Some(tx);
            }
        }
        Ok(())
    }

    fn has_listener(&self) -> bool {
        lock(&self.shared.listener).is_some()
    }

    fn send(&self, event: Event) -> bool {
        match lock(&self.sender).as_ref() {
            Some(tx) => tx.send(event).is_ok(),
            None => false,
        }
    }

    /// Queues a status change for the listener.
    pub(crate) fn status(&self, status: NodeStatus) {
        if self.has_listener() {
            self.send(Event::Status(status));
        }
    }

    /// Queues a log line for the listener, unless [`MAX_QUEUED_LOGS`] already wait.
    pub(crate) fn log(&self, level: LogLevel, target: &str, message: &str) {
        if !self.has_listener() {
            return;
        }
        let queued = &self.shared.queued_logs;
        if queued.fetch_add(1, Ordering::AcqRel) >= MAX_QUEUED_LOGS {
            queued.fetch_sub(1, Ordering::AcqRel);
            self.shared.dropped_logs.fetch_add(1, Ordering::AcqRel);
            return;
        }
        let sent = self.send(Event::Log {
            level,
            target: target.to_owned(),
            message: message.to_owned(),
        });
        if !sent {
            queued.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The event thread: runs until its dispatcher is gone and every queued event was delivered.
fn deliver_all(shared: &Shared, events: Receiver<Event>) {
    while let Ok(event) = events.recv() {
        if matches!(event, Event::Log { .. }) {
            shared.queued_logs.fetch_sub(1, Ordering::AcqRel);
        }
        let Some(listener) = lock(&shared.listener).clone() else {
            continue;
        };
        let dropped = shared.dropped_logs.swap(0, Ordering::AcqRel);
        if dropped > 0 {
            deliver(
                listener.as_ref(),
                Event::Log {
                    level: LogLevel::Warn,
                    target: "pocketpds_ffi".into(),
                    message: format!("{dropped} log lines were dropped: the listener was too slow"),
                },
            );
        }
        deliver(listener.as_ref(), event);
    }
}

/// Calls the listener; what it throws or panics with stays here.
fn deliver(listener: &dyn NodeListener, event: Event) {
    let _ignored = catch_unwind(AssertUnwindSafe(|| match event {
        Event::Status(status) => listener.on_status(status),
        Event::Log {
            level,
            target,
            message,
        } => listener.on_log(level, target, message),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::SyncSender;
    use std::time::Duration;

    struct Recorder {
        events: Mutex<SyncSender<(String, String)>>,
        fail: bool,
    }

    impl NodeListener for Recorder {
        fn on_status(&self, status: NodeStatus) -> Result<(), PdsError> {
            let thread = std::thread::current().name().unwrap_or("").to_owned();
            let _ = lock(&self.events).send((format!("{status:?}"), thread));
            if self.fail {
                panic!("listener bug");
            }
            Ok(())
        }
        fn on_log(&self, _: LogLevel, _: String, message: String) -> Result<(), PdsError> {
            let _ = lock(&self.events).send((message, String::new()));
            if self.fail {
                return Err(PdsError::Callback {
                    reason: "no".into(),
                });
            }
            Ok(())
        }
    }

    fn recorder(fail: bool) -> (Arc<Recorder>, Receiver<(String, String)>) {
        let (tx, rx) = mpsc::sync_channel(4096);
        (
            Arc::new(Recorder {
                events: Mutex::new(tx),
                fail,
            }),
            rx,
        )
    }

    #[test]
    fn events_arrive_in_order_on_the_event_thread_even_when_the_listener_fails() {
        let dispatcher = Dispatcher::new();
        dispatcher.status(NodeStatus::Starting); // no listener yet: not queued
        let (listener, rx) = recorder(true);
        dispatcher.set_listener(Some(listener)).unwrap();
        dispatcher.status(NodeStatus::Starting);
        dispatcher.log(LogLevel::Info, "t", "hello");
        dispatcher.status(NodeStatus::Stopped);
        let got: Vec<_> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        assert_eq!(got[0], ("Starting".into(), "pocketpds-events".into()));
        assert_eq!(got[1].0, "hello");
        assert_eq!(got[2], ("Stopped".into(), "pocketpds-events".into()));
        dispatcher.set_listener(None).unwrap();
        dispatcher.status(NodeStatus::Starting);
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    }

    #[test]
    fn log_lines_beyond_the_queue_bound_are_dropped_and_counted() {
        let dispatcher = Dispatcher::new();
        let (tx, rx) = mpsc::sync_channel(0);
        // A listener that blocks until the test lets it go.
        struct Gate(Mutex<SyncSender<String>>);
        impl NodeListener for Gate {
            fn on_status(&self, _: NodeStatus) -> Result<(), PdsError> {
                Ok(())
            }
            fn on_log(&self, _: LogLevel, _: String, message: String) -> Result<(), PdsError> {
                let _ = lock(&self.0).send(message);
                Ok(())
            }
        }
        dispatcher
            .set_listener(Some(Arc::new(Gate(Mutex::new(tx)))))
            .unwrap();
        for i in 0..MAX_QUEUED_LOGS + 500 {
            dispatcher.log(LogLevel::Info, "t", &i.to_string());
        }
        assert!(dispatcher.shared.queued_logs.load(Ordering::Acquire) <= MAX_QUEUED_LOGS);
        let mut messages = Vec::new();
        while let Ok(m) = rx.recv_timeout(Duration::from_millis(500)) {
            messages.push(m);
        }
        assert!(messages.len() <= MAX_QUEUED_LOGS + 2, "{}", messages.len());
        assert!(
            messages
                .iter()
                .any(|m| m.contains("log lines were dropped")),
            "no drop notice"
        );
    }
}
