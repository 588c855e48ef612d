//! The token scanner under [`super::decode`] and [`super::validate`]: it reads one CBOR header (and the
//! string or CID it introduces) at a time and enforces every rule that concerns a single item — definite
//! lengths, minimal headers, no floats, only false/true/null among simple values, integers within `i64`,
//! valid UTF-8, only tag 42 wrapping 0x00 and an atproto CID, and declared lengths that the remaining input
//! could hold. Rules about structure (key order, nesting depth) belong to the walker in `decode.rs`.

use super::CborError;
use crate::repo::cid::{cid_from_bytes, Cid};

/// The CBOR major types.
const MAJOR_UNSIGNED: u8 = 0;
const MAJOR_NEGATIVE: u8 = 1;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;

/// Additional-information value meaning "indefinite length" (or "break" under major type 7).
const INDEFINITE: u8 = 31;
/// The tag of a CID link in DAG-CBOR.
const TAG_CID: u64 = 42;

/// A value that holds no other values.
#[derive(Debug)]
pub(super) enum Leaf<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Bytes(&'a [u8]),
    Text(&'a str),
    Link(Cid),
}

/// One item's header: a leaf, or the start of a list or map with its number of items or entries.
/// Those counts were checked against the remaining input, so they fit `usize` and cannot be absurd.
#[derive(Debug)]
pub(super) enum Token<'a> {
    Leaf(Leaf<'a>),
    List(usize),
    Map(usize),
}

/// A cursor over DAG-CBOR bytes.
pub(super) struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `input`.
    pub(super) fn new(input: &'a [u8]) -> Self {
        Reader { input, pos: 0 }
    }

    /// The offset of the next unread byte.
    pub(super) fn position(&self) -> usize {
        self.pos
    }

    /// How many bytes are left.
    pub(super) fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes.
    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.input.len())
            .ok_or(CborError::UnexpectedEnd { offset: self.pos })?;
        let bytes = self
            .input
            .get(self.pos..end)
            .ok_or(CborError::UnexpectedEnd { offset: self.pos })?;
        self.pos = end;
        Ok(bytes)
    }

    /// The next byte.
    fn byte(&mut self) -> Result<u8, CborError> {
        let b = *self
            .input
            .get(self.pos)
            .ok_or(CborError::UnexpectedEnd { offset: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], CborError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// The argument of a header with additional information `info` (below 31), refusing non-minimal forms.
    fn argument(&mut self, info: u8, start: usize) -> Result<u64, CborError> {
        let (value, minimum) = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => (u64::from(self.byte()?), 24),
            25 => (u64::from(u16::from_be_bytes(self.array()?)), 0x100),
            26 => (u64::from(u32::from_be_bytes(self.array()?)), 0x1_0000),
            27 => (u64::from_be_bytes(self.array()?), 0x1_0000_0000),
            _ => return Err(CborError::Reserved { offset: start }),
        };
        if value < minimum {
            return Err(CborError::NonMinimal { offset: start });
        }
        Ok(value)
    }

    /// `declared` bytes of string content, after checking the input holds them.
    fn content(&mut self, declared: u64, start: usize) -> Result<&'a [u8], CborError> {
        let len = self.fitting(declared, 1, start)?;
        self.take(len)
    }

    /// `declared` as a count of items of at least `min_size` bytes each, if the remaining input holds them.
    fn fitting(&self, declared: u64, min_size: usize, start: usize) -> Result<usize, CborError> {
        usize::try_from(declared)
            .ok()
            .filter(|&n| n <= self.remaining() / min_size)
            .ok_or(CborError::LengthExceedsInput {
                offset: start,
                declared,
            })
    }

    /// Reads the next item's header (and, for strings and links, its content).
    pub(super) fn next(&mut self) -> Result<Token<'a>, CborError> {
        let start = self.pos;
        let initial = self.byte()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        if major == 7 {
            return simple(info, start, self).map(Token::Leaf);
        }
        if info == INDEFINITE {
            return Err(match major {
                MAJOR_BYTES | MAJOR_TEXT | MAJOR_ARRAY | MAJOR_MAP => {
                    CborError::IndefiniteLength { offset: start }
                }
                _ => CborError::Reserved { offset: start },
            });
        }
        let arg = self.argument(info, start)?;
        let token = match major {
            MAJOR_UNSIGNED => Token::Leaf(Leaf::Int(
                i64::try_from(arg).map_err(|_| CborError::IntegerOutOfRange { offset: start })?,
            )),
            MAJOR_NEGATIVE => {
                let n = i64::try_from(arg)
                    .map_err(|_| CborError::IntegerOutOfRange { offset: start })?;
                // n <= i64::MAX, so -1 - n >= i64::MIN.
                Token::Leaf(Leaf::Int(-1 - n))
            }
            MAJOR_BYTES => Token::Leaf(Leaf::Bytes(self.content(arg, start)?)),
            MAJOR_TEXT => {
                let bytes = self.content(arg, start)?;
                let text = std::str::from_utf8(bytes)
                    .map_err(|_| CborError::InvalidUtf8 { offset: start })?;
                Token::Leaf(Leaf::Text(text))
            }
            MAJOR_ARRAY => Token::List(self.fitting(arg, 1, start)?),
            MAJOR_MAP => Token::Map(self.fitting(arg, 2, start)?),
            MAJOR_TAG if arg == TAG_CID => Token::Leaf(Leaf::Link(self.link(start)?)),
            _ => {
                return Err(CborError::UnsupportedTag {
                    offset: start,
                    tag: arg,
                })
            }
        };
        Ok(token)
    }

    /// The content of tag 42 (whose header started at `start`): a byte string of 0x00 and a CID.
    fn link(&mut self, start: usize) -> Result<Cid, CborError> {
        let invalid = |reason: &str| CborError::InvalidLink {
            offset: start,
            reason: reason.to_owned(),
        };
        let inner = self.pos;
        let initial = self.byte()?;
        if initial >> 5 != MAJOR_BYTES {
            return Err(invalid("tag 42 must wrap a byte string"));
        }
        let info = initial & 0x1f;
        if info == INDEFINITE {
            return Err(CborError::IndefiniteLength { offset: inner });
        }
        let len = self.argument(info, inner)?;
        let bytes = self.content(len, inner)?;
        match bytes.split_first() {
            Some((0, cid)) => cid_from_bytes(cid).map_err(|e| invalid(&e.to_string())),
            Some(_) => Err(invalid("missing the 0x00 multibase prefix")),
            None => Err(invalid("empty byte string")),
        }
    }
}

/// A major-type-7 item: only false, true and null are part of the data model.
fn simple(info: u8, start: usize, reader: &mut Reader<'_>) -> Result<Leaf<'static>, CborError> {
    match info {
        20 => Ok(Leaf::Bool(false)),
        21 => Ok(Leaf::Bool(true)),
        22 => Ok(Leaf::Null),
        24 => Err(CborError::UnsupportedSimple {
            offset: start,
            value: reader.byte()?,
        }),
        25..=27 => Err(CborError::Float { offset: start }),
        28..=30 => Err(CborError::Reserved { offset: start }),
        INDEFINITE => Err(CborError::IndefiniteLength { offset: start }),
        // 0..=19 and 23 (undefined)
        _ => Err(CborError::UnsupportedSimple {
            offset: start,
            value: info,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(bytes: &[u8]) -> Result<Token<'_>, CborError> {
        Reader::new(bytes).next()
    }

    #[test]
    fn integers_at_the_edges_of_i64_are_read() {
        let max = [0x1b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(first(&max), Ok(Token::Leaf(Leaf::Int(i64::MAX)))));
        let min = [0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(first(&min), Ok(Token::Leaf(Leaf::Int(i64::MIN)))));
        let over = [0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            first(&over).err(),
            Some(CborError::IntegerOutOfRange { offset: 0 })
        );
        let under = [0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            first(&under).err(),
            Some(CborError::IntegerOutOfRange { offset: 0 })
        );
    }

    #[test]
    fn each_header_width_refuses_values_a_shorter_one_could_hold() {
        for bytes in [
            &[0x18, 23][..],
            &[0x19, 0x00, 0xff],
            &[0x1a, 0x00, 0x00, 0xff, 0xff],
            &[0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert_eq!(
                first(bytes).err(),
                Some(CborError::NonMinimal { offset: 0 })
            );
        }
        assert!(matches!(first(&[0x18, 24]), Ok(Token::Leaf(Leaf::Int(24)))));
        assert!(matches!(
            first(&[0x19, 0x01, 0x00]),
            Ok(Token::Leaf(Leaf::Int(256)))
        ));
    }

    #[test]
    fn a_list_claiming_more_items_than_bytes_left_is_refused_before_reading_them() {
        let huge = [0x9b, 0x10, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            first(&huge).err(),
            Some(CborError::LengthExceedsInput {
                offset: 0,
                declared: 1 << 60
            })
        );
        // A map needs two bytes per entry at least.
        assert!(first(&[0xa2, 0x60, 0x60]).is_err());
        assert!(matches!(first(&[0xa1, 0x60, 0x60]), Ok(Token::Map(1))));
    }
}
