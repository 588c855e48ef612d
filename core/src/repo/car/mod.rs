//! CAR v1 files: the streaming reader and writer, repository export, proof CARs and import verification.
