//! MST keys: which strings may be keys, and on which layer of the tree each key lives.

use crate::repo::cid::sha256;

/// Longest key a repository accepts (the spec's limit on `collection/rkey`).
pub const MAX_KEY_LEN: usize = 1024;

/// Whether `key` may be stored in a repository MST: `collection/rkey`, both parts non-empty, only
/// `A-Za-z0-9` and `_ ~ - : .`, exactly one `/`, at most [`MAX_KEY_LEN`] bytes.
pub fn is_valid_key(key: &str) -> bool {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return false;
    }
    let Some((collection, rkey)) = key.split_once('/') else {
        return false;
    };
    let part_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'~' | b'-' | b':' | b'.'))
    };
    part_ok(collection) && part_ok(rkey)
}

/// The layer of a key: the number of leading zero bits of its SHA-256 hash, divided by two (so each
/// layer holds about a quarter of the keys of the layer below: a fanout of 4).
pub fn key_height(key: &[u8]) -> u32 {
    let hash = sha256(key);
    let mut zeros = 0u32;
    for byte in hash {
        if byte == 0 {
            zeros += 8;
        } else {
            zeros += byte.leading_zeros();
            break;
        }
    }
    zeros / 2
}

/// Length of the common prefix of two byte strings.
pub fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_collection_slash_rkey() {
        assert!(is_valid_key("app.bsky.feed.post/3jzfcijpj2z2a"));
        assert!(is_valid_key("A0/374913"));
        assert!(is_valid_key("com.example.record/self~:-_."));
        for bad in [
            "",
            "noslash",
            "/rkey",
            "coll/",
            "a/b/c",
            "coll/rkey with space",
            "coll/ümlaut",
            "coll/rk\0ey",
        ] {
            assert!(!is_valid_key(bad), "{bad:?} accepted");
        }
        let long = format!("c/{}", "a".repeat(MAX_KEY_LEN));
        assert!(!is_valid_key(&long));
    }

    #[test]
    fn common_prefix_counts_shared_leading_bytes() {
        assert_eq!(common_prefix_len(b"abcde", b"abc1"), 3);
        assert_eq!(common_prefix_len(b"", b"abc"), 0);
        assert_eq!(common_prefix_len(b"abc", b"abc"), 3);
    }
}
