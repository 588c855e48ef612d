//! Logging: the core logs through `log`; [`init_logging`] installs one logger that writes each line
//! to the platform's log — `android_logger` (logcat) on Android, `os_log` on iOS and macOS, stderr
//! elsewhere — and hands it to the listeners of the live nodes.

use std::sync::{Arc, Mutex, OnceLock, Weak};

use log::{LevelFilter, Log, Metadata, Record};

use crate::listener::{lock, Dispatcher};
use crate::types::LogLevel;

/// The tag (Android) or subsystem (Apple) of the library's log lines.
pub const LOG_TAG: &str = "PocketPDS";

static LOGGER: FfiLogger = FfiLogger;
static SINKS: Mutex<Vec<Weak<Dispatcher>>> = Mutex::new(Vec::new());

/// Installs the library's logger at `level` (the first call installs it; later calls change the
/// level). When the app already installed another `log` logger in this process, that one stays and
/// listeners receive no log lines.
#[uniffi::export]
pub fn init_logging(level: LogLevel) {
    if log::set_logger(&LOGGER).is_err() {
        log::debug!("a logger was already installed; keeping it");
    }
    log::set_max_level(LevelFilter::from(level));
}

/// Lets `dispatcher` receive log lines while it lives.
pub(crate) fn register(dispatcher: &Arc<Dispatcher>) {
    let mut sinks = lock(&SINKS);
    sinks.retain(|sink| sink.strong_count() > 0);
    sinks.push(Arc::downgrade(dispatcher));
}

struct FfiLogger;

impl Log for FfiLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        platform().log(record);
        // Collect the live sinks first: nothing is sent (nor any dispatcher dropped) under the lock.
        let live: Vec<Arc<Dispatcher>> = lock(&SINKS).iter().filter_map(Weak::upgrade).collect();
        if live.is_empty() {
            return;
        }
        let message = record.args().to_string();
        for sink in &live {
            sink.log(record.level().into(), record.target(), &message);
        }
    }

    fn flush(&self) {}
}

fn platform() -> &'static dyn Log {
    static PLATFORM: OnceLock<Box<dyn Log>> = OnceLock::new();
    PLATFORM.get_or_init(platform::backend).as_ref()
}

#[cfg(target_os = "android")]
mod platform {
    use log::{LevelFilter, Log};

    pub(super) fn backend() -> Box<dyn Log> {
        Box::new(android_logger::AndroidLogger::new(
            android_logger::Config::default()
                .with_tag(super::LOG_TAG)
                .with_max_level(LevelFilter::Trace),
        ))
    }
}

#[cfg(any(target_os = "ios", target_os = "macos"))]
mod platform {
    use log::{Level, Log, Metadata, Record};
    use oslog::OsLog;

    struct OsLogBackend(OsLog);

    impl Log for OsLogBackend {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }

        fn log(&self, record: &Record<'_>) {
            let level = match record.level() {
                Level::Error => oslog::Level::Error,
                Level::Warn => oslog::Level::Default,
                Level::Info => oslog::Level::Info,
                Level::Debug | Level::Trace => oslog::Level::Debug,
            };
            self.0
                .with_level(level, &format!("{}: {}", record.target(), record.args()));
        }

        fn flush(&self) {}
    }

    pub(super) fn backend() -> Box<dyn Log> {
        Box::new(OsLogBackend(OsLog::new("dev.pocketpds", super::LOG_TAG)))
    }
}

#[cfg(not(any(target_os = "android", target_os = "ios", target_os = "macos")))]
mod platform {
    use log::{Log, Metadata, Record};

    struct Stderr;

    impl Log for Stderr {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }

        fn log(&self, record: &Record<'_>) {
            eprintln!(
                "{:<5} {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }

        fn flush(&self) {}
    }

    pub(super) fn backend() -> Box<dyn Log> {
        Box::new(Stderr)
    }
}
