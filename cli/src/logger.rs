//! A minimal `log` backend for the daemon: one line per record on stderr.

use log::{LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // libSQL's replication logs every handshake at info and every fetch over a millisecond as
        // a warning: only its errors are shown unless debugging.
        if metadata.target().starts_with("libsql") && log::max_level() < LevelFilter::Debug {
            return metadata.level() <= log::Level::Error;
        }
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "{:<5} {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: Stderr = Stderr;

/// Installs the logger at `level` (a second call keeps the first logger).
pub fn init(level: LevelFilter) {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
