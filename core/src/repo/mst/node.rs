//! One MST node as it is stored: `{"e": [{"k", "p", "t", "v"}...], "l": CID|null}` in DAG-CBOR, with
//! keys prefix-compressed against the previous entry. Encoding is canonical by construction; decoding
//! is strict (exact field sets and order, minimal integers, sorted keys) because nodes arrive from
//! untrusted CARs.

use std::sync::Arc;

use super::key::{common_prefix_len, is_valid_key};
use super::MstError;
use crate::repo::cbor::writer::{
    write_array_header, write_bytes, write_cid, write_map_header, write_null, write_text,
    write_uint,
};
use crate::repo::cid::{cid_from_bytes, Cid, DAG_CBOR};

/// A key and its value in a node, with the subtree of keys between it and the next entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The full (decompressed) key.
    pub key: Arc<str>,
    /// The CID of the record stored under the key.
    pub value: Cid,
    /// The subtree of keys greater than this one and smaller than the next entry's.
    pub right: Option<Cid>,
}

/// A decoded MST node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// The subtree of keys smaller than the first entry's.
    pub left: Option<Cid>,
    /// Entries in ascending key order.
    pub entries: Vec<Entry>,
}

impl Node {
    /// Whether the node holds nothing at all (no entries and no subtree).
    pub fn is_empty(&self) -> bool {
        self.left.is_none() && self.entries.is_empty()
    }

    /// The subtree in gap `i`: before entry `i` (gap 0 is `left`, gap `n` follows the last entry).
    pub fn gap(&self, i: usize) -> Option<Cid> {
        if i == 0 {
            self.left
        } else {
            self.entries.get(i - 1).and_then(|e| e.right)
        }
    }

    /// Replaces the subtree in gap `i`.
    pub fn set_gap(&mut self, i: usize, child: Option<Cid>) {
        if i == 0 {
            self.left = child;
        } else if let Some(e) = self.entries.get_mut(i - 1) {
            e.right = child;
        }
    }

    /// Index of the first entry whose key is `>= key`, and whether it is equal.
    pub fn search(&self, key: &str) -> (usize, bool) {
        match self.entries.binary_search_by(|e| (*e.key).cmp(key)) {
            Ok(i) => (i, true),
            Err(i) => (i, false),
        }
    }

    /// The canonical DAG-CBOR encoding of the node.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.entries.len() * 90);
        write_map_header(&mut out, 2);
        write_text(&mut out, "e");
        write_array_header(&mut out, self.entries.len() as u64);
        let mut prev: &[u8] = &[];
        for e in &self.entries {
            let key = e.key.as_bytes();
            let p = common_prefix_len(prev, key);
            write_map_header(&mut out, 4); // k, p, t, v
            write_text(&mut out, "k");
            write_bytes(&mut out, &key[p..]);
            write_text(&mut out, "p");
            write_uint(&mut out, p as u64);
            write_text(&mut out, "t");
            write_opt_cid(&mut out, e.right.as_ref());
            write_text(&mut out, "v");
            write_cid(&mut out, &e.value);
            prev = key;
        }
        write_text(&mut out, "l");
        write_opt_cid(&mut out, self.left.as_ref());
        out
    }

    /// Decodes and checks a node: exact fields, minimal encodings, valid and strictly ascending keys,
    /// prefix lengths within the previous key, dag-cbor subtree links.
    pub fn decode(bytes: &[u8]) -> Result<Node, MstError> {
        let mut r = Reader { buf: bytes, pos: 0 };
        r.expect_map(2)?;
        r.expect_key("e")?;
        let n = r.header_of(4)?;
        // Each entry takes at least 20 bytes, so a hostile count cannot make us reserve much.
        let mut entries = Vec::with_capacity((n as usize).min(bytes.len() / 20));
        let mut prev = String::new();
        for _ in 0..n {
            r.expect_map(4)?;
            r.expect_key("k")?;
            let suffix = r.byte_string()?;
            r.expect_key("p")?;
            let p = r.header_of(0)? as usize;
            r.expect_key("t")?;
            let right = r.opt_cid()?;
            r.expect_key("v")?;
            let value = r.cid()?;
            if p > prev.len() || (entries.is_empty() && p != 0) {
                return Err(r.bad("prefix length beyond the previous key"));
            }
            let suffix = std::str::from_utf8(suffix).map_err(|_| r.bad("key is not UTF-8"))?;
            let mut key = String::with_capacity(p + suffix.len());
            key.push_str(
                prev.get(..p)
                    .ok_or_else(|| r.bad("prefix splits a character"))?,
            );
            key.push_str(suffix);
            if !is_valid_key(&key) {
                return Err(MstError::InvalidKey(key));
            }
            if !entries.is_empty() && key <= prev {
                return Err(r.bad("keys not in ascending order"));
            }
            check_link(&right, &r)?;
            entries.push(Entry {
                key: Arc::from(key.as_str()),
                value,
                right,
            });
            prev = key;
        }
        r.expect_key("l")?;
        let left = r.opt_cid()?;
        check_link(&left, &r)?;
        if r.pos != bytes.len() {
            return Err(r.bad("trailing bytes"));
        }
        Ok(Node { left, entries })
    }
}

/// The links of a node without its keys: the left subtree, and for each entry its record and right
/// subtree. What a walk over a tree's blocks (export) needs; the layout is checked as strictly as by
/// [`Node::decode`], but keys are neither rebuilt nor validated, so use it only on trusted trees.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeLinks {
    /// The subtree of keys below the first entry.
    pub left: Option<Cid>,
    /// Each entry's record value and right subtree, in key order.
    pub entries: Vec<(Cid, Option<Cid>)>,
}

impl NodeLinks {
    /// Reads the links of an encoded node.
    pub fn decode(bytes: &[u8]) -> Result<NodeLinks, MstError> {
        let mut r = Reader { buf: bytes, pos: 0 };
        r.expect_map(2)?;
        r.expect_key("e")?;
        let n = r.header_of(4)?;
        let mut entries = Vec::with_capacity((n as usize).min(bytes.len() / 20));
        for _ in 0..n {
            r.expect_map(4)?;
            r.expect_key("k")?;
            r.byte_string()?;
            r.expect_key("p")?;
            r.header_of(0)?;
            r.expect_key("t")?;
            let right = r.opt_cid()?;
            r.expect_key("v")?;
            let value = r.cid()?;
            check_link(&right, &r)?;
            entries.push((value, right));
        }
        r.expect_key("l")?;
        let left = r.opt_cid()?;
        check_link(&left, &r)?;
        if r.pos != bytes.len() {
            return Err(r.bad("trailing bytes"));
        }
        Ok(NodeLinks { left, entries })
    }
}

fn check_link(link: &Option<Cid>, r: &Reader<'_>) -> Result<(), MstError> {
    match link {
        Some(cid) if cid.codec() != DAG_CBOR => Err(r.bad("subtree link is not dag-cbor")),
        _ => Ok(()),
    }
}

fn write_opt_cid(out: &mut Vec<u8>, cid: Option<&Cid>) {
    match cid {
        Some(c) => write_cid(out, c),
        None => write_null(out),
    }
}

/// A cursor over a node's bytes that reads exactly the shapes a node may contain.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bad(&self, why: &str) -> MstError {
        MstError::MalformedNode(format!("{why} at byte {}", self.pos))
    }

    fn byte(&mut self) -> Result<u8, MstError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.bad("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], MstError> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.pos.checked_add(n))
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| self.bad("truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Reads a header, returning (major type, argument); the argument must be minimally encoded.
    fn header(&mut self) -> Result<(u8, u64), MstError> {
        let b = self.byte()?;
        let (major, info) = (b >> 5, b & 0x1f);
        let n = match info {
            0..=23 => info as u64,
            24 => {
                let v = self.byte()? as u64;
                if v < 24 {
                    return Err(self.bad("non-minimal integer"));
                }
                v
            }
            25..=27 => {
                let width = 1usize << (info - 24);
                let raw = self.take(width as u64)?;
                let v = raw.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64);
                let min = 1u64 << (4 * width); // smallest value that needs this width
                if v < min {
                    return Err(self.bad("non-minimal integer"));
                }
                v
            }
            _ => return Err(self.bad("indefinite length or reserved header")),
        };
        Ok((major, n))
    }

    fn header_of(&mut self, major: u8) -> Result<u64, MstError> {
        match self.header()? {
            (m, n) if m == major => Ok(n),
            _ => Err(self.bad("unexpected type")),
        }
    }

    fn expect_map(&mut self, len: u64) -> Result<(), MstError> {
        if self.header_of(5)? != len {
            return Err(self.bad("wrong number of fields"));
        }
        Ok(())
    }

    fn expect_key(&mut self, key: &str) -> Result<(), MstError> {
        let n = self.header_of(3)?;
        if self.take(n)? != key.as_bytes() {
            return Err(self.bad("unexpected field"));
        }
        Ok(())
    }

    fn byte_string(&mut self) -> Result<&'a [u8], MstError> {
        let n = self.header_of(2)?;
        self.take(n)
    }

    fn cid(&mut self) -> Result<Cid, MstError> {
        if self.header_of(6)? != 42 {
            return Err(self.bad("tag other than 42"));
        }
        let raw = self.byte_string()?;
        match raw.split_first() {
            Some((0, cid)) => cid_from_bytes(cid).map_err(|e| self.bad(&e.to_string())),
            _ => Err(self.bad("CID without the 0x00 multibase prefix")),
        }
    }

    fn opt_cid(&mut self) -> Result<Option<Cid>, MstError> {
        if self.buf.get(self.pos) == Some(&0xf6) {
            self.pos += 1;
            return Ok(None);
        }
        self.cid().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::cid::cid_for_cbor;

    fn entry(key: &str, right: Option<Cid>) -> Entry {
        Entry {
            key: Arc::from(key),
            value: cid_for_cbor(key.as_bytes()),
            right,
        }
    }

    #[test]
    fn node_round_trips_and_matches_the_generic_encoder() {
        let sub = cid_for_cbor(b"sub");
        let node = Node {
            left: Some(sub),
            entries: vec![
                entry("app.bsky.feed.post/aaa", None),
                entry("app.bsky.feed.post/aab", Some(sub)),
                entry("app.bsky.feed.repost/x", None),
            ],
        };
        let bytes = node.encode();
        assert_eq!(Node::decode(&bytes).expect("decodes"), node);
        // The generic DAG-CBOR encoder must produce the very same bytes.
        let ipld: ipld_core::ipld::Ipld = serde_ipld_dagcbor::from_slice(&bytes).expect("cbor");
        assert_eq!(serde_ipld_dagcbor::to_vec(&ipld).expect("enc"), bytes);
    }

    #[test]
    fn links_match_the_full_decoding() {
        let sub = cid_for_cbor(b"sub");
        let node = Node {
            left: Some(sub),
            entries: vec![entry("a/b", None), entry("a/c", Some(sub))],
        };
        let bytes = node.encode();
        let links = NodeLinks::decode(&bytes).expect("decodes");
        assert_eq!(links.left, node.left);
        let want: Vec<(Cid, Option<Cid>)> =
            node.entries.iter().map(|e| (e.value, e.right)).collect();
        assert_eq!(links.entries, want);
        for cut in 0..bytes.len() {
            assert!(NodeLinks::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn empty_node_has_the_reference_cid() {
        let bytes = Node::default().encode();
        assert_eq!(
            cid_for_cbor(&bytes).to_string(),
            "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
        );
    }

    #[test]
    fn every_truncation_of_a_node_is_refused() {
        let node = Node {
            left: None,
            entries: vec![entry("a/b", None), entry("a/c", None)],
        };
        let bytes = node.encode();
        for cut in 0..bytes.len() {
            assert!(Node::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn unsorted_or_badly_prefixed_nodes_are_refused() {
        let unsorted = Node {
            left: None,
            entries: vec![entry("a/c", None), entry("a/b", None)],
        };
        assert!(Node::decode(&unsorted.encode()).is_err());
        let dup = Node {
            left: None,
            entries: vec![entry("a/b", None), entry("a/b", None)],
        };
        assert!(Node::decode(&dup.encode()).is_err());
        // A first entry with p = 1 (patch the byte after "p").
        let mut bytes = Node {
            left: None,
            entries: vec![entry("a/b", None)],
        }
        .encode();
        let at = bytes
            .windows(2)
            .position(|w| w == [0x61, b'p'])
            .expect("p field");
        bytes[at + 2] = 0x01;
        assert!(Node::decode(&bytes).is_err());
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for bytes in [
            &[][..],
            &[0xa2],
            &[0xbf, 0xff],
            &[
                0xa2, 0x61, b'e', 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
            &[0xa1, 0x61, b'e', 0x80],
            &[0xf9, 0x3c, 0x00],
        ] {
            assert!(Node::decode(bytes).is_err());
        }
    }
}
