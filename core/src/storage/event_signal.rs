//! [`EventSignal`]: how the stores tell whoever reads the event table (the firehose) that a
//! transaction which appended events has committed.
//!
//! The storage room does not know the firehose: the node gives each store that appends events a
//! signal built from a callback of its choosing (it wakes the sequencer), and the store calls it
//! after its transaction commits, never inside it. A store built without one signals nobody.

use std::fmt;
use std::sync::Arc;

/// A callback run after events were committed. Cloning shares it; the default does nothing.
#[derive(Clone, Default)]
pub struct EventSignal {
    hook: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl EventSignal {
    /// A signal that runs `hook`. The hook is called on the writer's task after each commit, so it
    /// must be cheap and must not wait (waking a task is what it is for).
    pub fn new(hook: impl Fn() + Send + Sync + 'static) -> EventSignal {
        EventSignal {
            hook: Some(Arc::new(hook)),
        }
    }

    /// Tells the listener that events may have been committed.
    pub fn notify(&self) {
        if let Some(hook) = &self.hook {
            hook();
        }
    }

    /// A guard that notifies when it is dropped: taken at the start of a write, it tells the
    /// listener once the write is over, however it ends (committed, failed or cancelled).
    pub fn on_drop(&self) -> NotifyOnDrop<'_> {
        NotifyOnDrop(self)
    }

    /// Whether anybody listens.
    pub fn is_connected(&self) -> bool {
        self.hook.is_some()
    }
}

/// Notifies its signal when dropped ([`EventSignal::on_drop`]).
#[must_use = "the signal is sent when the guard is dropped"]
pub struct NotifyOnDrop<'a>(&'a EventSignal);

impl Drop for NotifyOnDrop<'_> {
    fn drop(&mut self) {
        self.0.notify();
    }
}

impl fmt::Debug for EventSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSignal")
            .field("connected", &self.is_connected())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_signal_runs_its_hook_and_the_default_runs_nothing() {
        let count = Arc::new(AtomicUsize::new(0));
        let signal = {
            let count = count.clone();
            EventSignal::new(move || {
                count.fetch_add(1, Ordering::SeqCst);
            })
        };
        signal.clone().notify();
        signal.notify();
        assert_eq!(count.load(Ordering::SeqCst), 2);
        {
            let _guard = signal.on_drop();
            assert_eq!(count.load(Ordering::SeqCst), 2, "not before the guard goes");
        }
        assert_eq!(count.load(Ordering::SeqCst), 3);
        assert!(signal.is_connected());
        let none = EventSignal::default();
        none.notify();
        assert!(!none.is_connected());
    }
}
