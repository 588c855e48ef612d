//! Writing CAR v1: [`CarWriter`], a buffered streaming writer over any [`AsyncWrite`], and the byte
//! helpers [`encode_car`], [`header_bytes`], [`section_bytes`] and [`encode_section_into`] for CARs built
//! in memory or sent as a stream of body chunks.
//!
//! Writers trust the caller that each block hashes to its CID (export reads blocks from a store that
//! holds only verified blocks; hashing again would halve export speed). [`CarWriter`] does check that
//! each CID is one atproto uses, so it never writes what [`super::CarReader`] would refuse.

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::error::CarError;
use super::{header, varint};
use crate::repo::cid::{check_cid, Cid};

/// The size at which [`CarWriter`] hands its buffer to the underlying writer.
pub const WRITE_CHUNK: usize = 64 * 1024;

/// A streaming CAR v1 writer. Sections are gathered in a buffer and written in chunks of about
/// [`WRITE_CHUNK`] bytes; blocks of that size or more go to the writer directly, without a copy.
///
/// Call [`CarWriter::finish`]: dropping the writer loses what is still buffered.
pub struct CarWriter<W> {
    writer: W,
    buf: Vec<u8>,
    bytes_written: u64,
    blocks_written: u64,
}

impl<W: AsyncWrite + Unpin> CarWriter<W> {
    /// Starts a CAR naming `roots` (possibly none). The header is buffered, not yet written.
    /// Fails with [`CarError::BadCid`] if a root is not a CID atproto uses.
    pub fn new(writer: W, roots: &[Cid]) -> Result<Self, CarError> {
        for root in roots {
            check_cid(root)?;
        }
        let mut buf = Vec::with_capacity(WRITE_CHUNK * 2);
        buf.extend_from_slice(&header_bytes(roots));
        Ok(Self {
            writer,
            bytes_written: buf.len() as u64,
            buf,
            blocks_written: 0,
        })
    }

    /// Appends one section. Fails with [`CarError::BadCid`] if `cid` is not a CID atproto uses; the
    /// block is not hashed (see the module documentation).
    pub async fn write_block(&mut self, cid: &Cid, block: &[u8]) -> Result<(), CarError> {
        check_cid(cid)?;
        let body = cid.encoded_len() + block.len();
        encode_section_prefix(&mut self.buf, cid, block.len());
        if block.len() >= WRITE_CHUNK {
            self.flush_buffer().await?;
            self.writer.write_all(block).await?;
        } else {
            self.buf.extend_from_slice(block);
            if self.buf.len() >= WRITE_CHUNK {
                self.flush_buffer().await?;
            }
        }
        self.bytes_written += (varint::encoded_len(body as u64) + body) as u64;
        self.blocks_written += 1;
        Ok(())
    }

    /// Bytes of CAR produced so far (header and sections, buffered or written).
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Sections appended so far.
    pub fn blocks_written(&self) -> u64 {
        self.blocks_written
    }

    /// Writes what is buffered, flushes the writer and returns it.
    pub async fn finish(mut self) -> Result<W, CarError> {
        self.flush_buffer().await?;
        self.writer.flush().await?;
        Ok(self.writer)
    }

    async fn flush_buffer(&mut self) -> Result<(), CarError> {
        if !self.buf.is_empty() {
            self.writer.write_all(&self.buf).await?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// A whole CAR in memory: the header naming `roots`, then one section per block, in order.
/// CIDs are written as given; nothing is hashed or checked.
pub fn encode_car(roots: &[Cid], blocks: impl IntoIterator<Item = (Cid, Bytes)>) -> Vec<u8> {
    let mut out = header_bytes(roots);
    for (cid, block) in blocks {
        encode_section_into(&mut out, &cid, &block);
    }
    out
}

/// The header naming `roots`, with its length prefix: the first bytes of a CAR.
pub fn header_bytes(roots: &[Cid]) -> Vec<u8> {
    let body = header::encode(roots);
    let mut out = Vec::with_capacity(varint::MAX_LEN + body.len());
    varint::encode(body.len() as u64, &mut out);
    out.extend_from_slice(&body);
    out
}

/// One section (length prefix, CID, block) as its own buffer, e.g. one chunk of a streamed body.
pub fn section_bytes(cid: &Cid, block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(varint::MAX_LEN + cid.encoded_len() + block.len());
    encode_section_into(&mut out, cid, block);
    out
}

/// Appends one section (length prefix, CID, block) to `out`.
pub fn encode_section_into(out: &mut Vec<u8>, cid: &Cid, block: &[u8]) {
    encode_section_prefix(out, cid, block.len());
    out.extend_from_slice(block);
}

/// Appends a section's length prefix and CID for a block of `block_len` bytes.
fn encode_section_prefix(out: &mut Vec<u8>, cid: &Cid, block_len: usize) {
    varint::encode((cid.encoded_len() + block_len) as u64, out);
    write_cid(out, cid);
}

/// Appends the binary form of `cid` (as [`Cid::to_bytes`] gives it) without an intermediate buffer.
fn write_cid(out: &mut Vec<u8>, cid: &Cid) {
    let hash = cid.hash();
    if cid.version() == cid::Version::V1 {
        varint::encode(1, out);
        varint::encode(cid.codec(), out);
    }
    varint::encode(hash.code(), out);
    varint::encode(u64::from(hash.size()), out);
    out.extend_from_slice(hash.digest());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::car::{read_car, CarLimits};
    use crate::repo::cid::{cid_for, cid_for_cbor, cid_from_str};

    #[test]
    fn cids_are_written_exactly_as_the_cid_crate_writes_them() {
        let v0 = Cid::try_from("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n").unwrap();
        let v1 =
            cid_from_str("bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua").unwrap();
        let big_codec = cid_for(0x0129, b"x");
        for cid in [v0, v1, big_codec] {
            let mut out = Vec::new();
            write_cid(&mut out, &cid);
            assert_eq!(out, cid.to_bytes());
            assert_eq!(out.len(), cid.encoded_len());
        }
    }

    #[tokio::test]
    async fn the_streaming_writer_produces_the_same_bytes_as_encode_car() {
        let blocks: Vec<(Cid, Bytes)> = (0..200u32)
            .map(|i| {
                // Mostly small blocks, a few above the chunk size to take the direct path.
                let len = if i % 50 == 0 {
                    WRITE_CHUNK + i as usize
                } else {
                    (i as usize * 37) % 900
                };
                let bytes = Bytes::from(vec![i as u8; len]);
                (cid_for_cbor(&bytes), bytes)
            })
            .collect();
        let roots = [blocks[0].0];
        let mut writer = CarWriter::new(Vec::new(), &roots).unwrap();
        for (cid, bytes) in &blocks {
            writer.write_block(cid, bytes).await.unwrap();
        }
        let written = writer.bytes_written();
        assert_eq!(writer.blocks_written(), 200);
        let out = writer.finish().await.unwrap();
        let expected = encode_car(&roots, blocks.clone());
        assert_eq!(out, expected);
        assert_eq!(written, expected.len() as u64);
        let (read_roots, read_blocks) = read_car(&out, CarLimits::default()).unwrap();
        assert_eq!((read_roots, read_blocks), (roots.to_vec(), blocks));
    }

    #[test]
    fn the_writer_refuses_cids_the_reader_would_refuse() {
        let dag_pb = cid_for(0x70, b"x");
        assert!(matches!(
            CarWriter::new(Vec::new(), &[dag_pb]),
            Err(CarError::BadCid(_))
        ));
    }

    #[tokio::test]
    async fn a_block_with_a_foreign_codec_is_refused_by_the_writer() {
        let mut writer = CarWriter::new(Vec::new(), &[]).unwrap();
        let dag_pb = cid_for(0x70, b"x");
        assert!(matches!(
            writer.write_block(&dag_pb, b"x").await,
            Err(CarError::BadCid(_))
        ));
    }

    #[test]
    fn section_bytes_concatenate_into_encode_car() {
        let block = Bytes::from_static(b"\xa0");
        let cid = cid_for_cbor(&block);
        let mut streamed = header_bytes(&[cid]);
        streamed.extend(section_bytes(&cid, &block));
        assert_eq!(streamed, encode_car(&[cid], [(cid, block)]));
    }
}
