//! Signed v3 repository commits.
