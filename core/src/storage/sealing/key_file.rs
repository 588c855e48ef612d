//! The daemon's secrets key when the environment gives none: 64 hex digits in a file of the data
//! directory, readable by its owner only (mode 0600 on Unix). Created once; processes that share the
//! data directory (several nodes on one machine) read the same file. The file is written under a
//! temporary name and linked into place, so a reader never sees half a key and two processes
//! creating it at once agree on one.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{SealingError, SealingKey};

/// The key file's name inside the data directory.
pub const FILE_NAME: &str = "secrets.key";

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing the file failed.
    #[error("secrets key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file does not hold a key.
    #[error("secrets key file {path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: SealingError,
    },
}

/// Reads the key in `dir`/[`FILE_NAME`], creating it with a new random key if there is none.
pub fn load_or_create(dir: &Path) -> Result<SealingKey, KeyFileError> {
    let path = dir.join(FILE_NAME);
    let io_error = |source| KeyFileError::Io {
        path: path.clone(),
        source,
    };
    match fs::read_to_string(&path) {
        Ok(text) => return parse(&path, &text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(e)),
    }
    let key = SealingKey::generate();
    let temporary = dir.join(format!(
        ".{FILE_NAME}.{}.{}",
        std::process::id(),
        hex::encode(rand::random::<[u8; 8]>())
    ));
    let written = write_private(&temporary, &key).map_err(io_error);
    let linked = written.and_then(|()| match fs::hard_link(&temporary, &path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_error(e)),
    });
    if let Err(e) = fs::remove_file(&temporary) {
        log::warn!("could not remove {}: {e}", temporary.display());
    }
    if linked? {
        log::info!("created the secrets key file {}", path.display());
        Ok(key)
    } else {
        // Another process created it first: use theirs.
        let text = fs::read_to_string(&path).map_err(io_error)?;
        parse(&path, &text)
    }
}

fn parse(path: &Path, text: &str) -> Result<SealingKey, KeyFileError> {
    SealingKey::from_hex(text).map_err(|source| KeyFileError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

fn write_private(path: &Path, key: &SealingKey) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(format!("{}\n", key.to_hex()).as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let second = load_or_create(dir.path()).unwrap();
        assert_eq!(first, second);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FILE_NAME)]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_damaged_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), "not a key").unwrap();
        assert!(matches!(
            load_or_create(dir.path()),
            Err(KeyFileError::Invalid { .. })
        ));
    }
}
