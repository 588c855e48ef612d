//! libSQL-backed storage.
