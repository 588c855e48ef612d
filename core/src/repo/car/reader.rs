//! Reading CAR v1: [`CarReader`], a streaming reader over any [`AsyncRead`], and [`read_car`] for bytes
//! already in memory. Both run the same parser.
//!
//! Memory stays bounded by [`CarLimits`]: every length prefix is checked against its limit before
//! anything is allocated, and even within the limits the buffer for a section grows with the bytes that
//! actually arrive (at most [`PREALLOCATE_MAX`] up front), so a short input claiming a long section
//! costs little. Every block is hashed and must match its CID.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};

use super::error::CarError;
use super::{header, varint};
use crate::repo::cid::{check_cid, verify_block, Cid, CidError};

/// Default [`CarLimits::max_header_bytes`]: 64 KiB.
pub const DEFAULT_MAX_HEADER_BYTES: u64 = 64 * 1024;
/// Default [`CarLimits::max_block_bytes`]: a 2 MiB block plus room for its CID.
pub const DEFAULT_MAX_BLOCK_BYTES: u64 = 2 * 1024 * 1024 + 64;
/// The most a section's buffer is given before its bytes arrive; larger sections grow as they are read.
pub const PREALLOCATE_MAX: usize = 1024 * 1024;
/// The read buffer [`CarReader`] puts in front of its source.
const READ_BUFFER: usize = 64 * 1024;

/// A block and its CID, as one CAR section holds them.
pub type CarBlock = (Cid, Bytes);

/// Bounds on what a CAR may make the reader hold or consume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarLimits {
    /// The longest header accepted, in bytes (its length prefix excluded).
    pub max_header_bytes: u64,
    /// The longest section accepted, in bytes: the CID and the block together, length prefix excluded.
    pub max_block_bytes: u64,
    /// The most bytes the whole CAR may take, prefixes included; `None` for no limit.
    pub max_total_bytes: Option<u64>,
}

impl Default for CarLimits {
    fn default() -> Self {
        Self {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_block_bytes: DEFAULT_MAX_BLOCK_BYTES,
            max_total_bytes: None,
        }
    }
}

/// A streaming CAR v1 reader: the header is read by [`CarReader::new`], then blocks one at a time.
///
/// The source is wrapped in a 64 KiB read buffer. After an error the position in the stream is
/// unspecified: stop reading. [`CarReader::next_block`] is not cancellation safe (dropping its future
/// midway loses the bytes already consumed).
pub struct CarReader<R> {
    sections: Sections<BufReader<R>>,
    roots: Vec<Cid>,
}

impl<R: AsyncRead + Unpin> CarReader<R> {
    /// Reads and checks the header: version 1 and a list (possibly empty) of root CIDs.
    pub async fn new(reader: R, limits: CarLimits) -> Result<Self, CarError> {
        let mut sections = Sections::new(BufReader::with_capacity(READ_BUFFER, reader), limits);
        let roots = sections.read_header().await?;
        Ok(Self { sections, roots })
    }

    /// The roots the header names.
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// The next block, checked against its CID, or `None` at a clean end of the stream (between
    /// sections). The stream ending inside a section is [`CarError::Truncated`].
    pub async fn next_block(&mut self) -> Result<Option<CarBlock>, CarError> {
        self.sections.next_block().await
    }

    /// Bytes consumed so far: the header and every complete section, length prefixes included.
    pub fn bytes_read(&self) -> u64 {
        self.sections.bytes_read
    }

    /// Blocks returned so far.
    pub fn blocks_read(&self) -> u64 {
        self.sections.blocks_read
    }
}

/// Reads a whole CAR held in memory: its roots and its blocks in file order (duplicates kept).
/// Runs the same parser as [`CarReader`], without a runtime.
pub fn read_car(bytes: &[u8], limits: CarLimits) -> Result<(Vec<Cid>, Vec<CarBlock>), CarError> {
    poll_ready(async {
        let mut sections = Sections::new(bytes, limits);
        let roots = sections.read_header().await?;
        let mut blocks = Vec::new();
        while let Some(block) = sections.next_block().await? {
            blocks.push(block);
        }
        Ok((roots, blocks))
    })
}

/// Runs a future over a source that is always ready (bytes in memory) to completion in one poll.
pub(crate) fn poll_ready<T>(
    future: impl Future<Output = Result<T, CarError>>,
) -> Result<T, CarError> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result,
        Poll::Pending => Err(CarError::Io(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            "an in-memory CAR source was not ready",
        ))),
    }
}

/// The parser: header, then sections, with the counters and limits.
struct Sections<R> {
    reader: R,
    limits: CarLimits,
    bytes_read: u64,
    blocks_read: u64,
}

impl<R: AsyncRead + Unpin> Sections<R> {
    fn new(reader: R, limits: CarLimits) -> Self {
        Self {
            reader,
            limits,
            bytes_read: 0,
            blocks_read: 0,
        }
    }

    async fn read_header(&mut self) -> Result<Vec<Cid>, CarError> {
        let (len, prefix) = varint::read(&mut self.reader)
            .await?
            .ok_or(CarError::Truncated)?;
        if len > self.limits.max_header_bytes {
            return Err(CarError::HeaderTooLarge {
                len,
                max: self.limits.max_header_bytes,
            });
        }
        if len == 0 {
            return Err(CarError::BadHeader("empty header".into()));
        }
        self.check_total(prefix, len)?;
        let bytes = self.read_exactly(len).await?;
        let roots = header::decode(&bytes)?;
        self.bytes_read += prefix as u64 + len;
        Ok(roots)
    }

    async fn next_block(&mut self) -> Result<Option<CarBlock>, CarError> {
        let Some((len, prefix)) = varint::read(&mut self.reader).await? else {
            return Ok(None);
        };
        if len > self.limits.max_block_bytes {
            return Err(CarError::BlockTooLarge {
                len,
                max: self.limits.max_block_bytes,
            });
        }
        if len == 0 {
            return Err(CarError::EmptySection);
        }
        self.check_total(prefix, len)?;
        let section = self.read_exactly(len).await?;

        let mut rest: &[u8] = &section;
        let cid = Cid::read_bytes(&mut rest).map_err(|e| CidError::Malformed(e.to_string()))?;
        check_cid(&cid)?;
        let block = section.slice(section.len() - rest.len()..);
        if !verify_block(&cid, &block) {
            return Err(CarError::HashMismatch { cid });
        }
        self.bytes_read += prefix as u64 + len;
        self.blocks_read += 1;
        Ok(Some((cid, block)))
    }

    /// Checks that a prefix of `prefix` bytes and a body of `len` bytes fit the total limit.
    fn check_total(&self, prefix: usize, len: u64) -> Result<(), CarError> {
        if let Some(max) = self.limits.max_total_bytes {
            let total = self
                .bytes_read
                .saturating_add(prefix as u64)
                .saturating_add(len);
            if total > max {
                return Err(CarError::TotalTooLarge { max });
            }
        }
        Ok(())
    }

    /// Reads exactly `len` bytes, growing the buffer only as bytes arrive past [`PREALLOCATE_MAX`].
    async fn read_exactly(&mut self, len: u64) -> Result<Bytes, CarError> {
        let len = usize::try_from(len).map_err(|_| CarError::BlockTooLarge {
            len,
            max: usize::MAX as u64,
        })?;
        let mut buf = BytesMut::with_capacity(len.min(PREALLOCATE_MAX));
        while buf.len() < len {
            let wanted = len - buf.len();
            if buf.capacity() == buf.len() {
                buf.reserve(wanted.min(buf.capacity().max(READ_BUFFER)));
            }
            let read = (&mut self.reader)
                .take(wanted as u64)
                .read_buf(&mut buf)
                .await?;
            if read == 0 {
                return Err(CarError::Truncated);
            }
        }
        Ok(buf.freeze())
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::pin::Pin;

    use tokio::io::ReadBuf;

    use super::*;
    use crate::repo::car::encode_car;
    use crate::repo::cid::{cid_for_cbor, cid_for_raw};

    /// A source that hands out one byte per read and is not ready every other poll.
    struct Trickle {
        bytes: Vec<u8>,
        pos: usize,
        stall: bool,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.stall = !self.stall;
            if self.stall {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if let Some(&byte) = self.bytes.get(self.pos) {
                buf.put_slice(&[byte]);
                self.pos += 1;
            }
            Poll::Ready(Ok(()))
        }
    }

    fn sample() -> (Vec<Cid>, Vec<(Cid, Bytes)>) {
        let blocks: Vec<(Cid, Bytes)> = [&b"\xa1aa\x01"[..], b"raw blob", &[0u8; 3000][..]]
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                let cid = if i == 1 {
                    cid_for_raw(bytes)
                } else {
                    cid_for_cbor(bytes)
                };
                (cid, Bytes::copy_from_slice(bytes))
            })
            .collect();
        (vec![blocks[0].0], blocks)
    }

    #[tokio::test]
    async fn a_trickling_source_reads_like_bytes_in_memory() {
        let (roots, blocks) = sample();
        let car = encode_car(&roots, blocks.clone());
        let source = Trickle {
            bytes: car.clone(),
            pos: 0,
            stall: false,
        };
        let mut reader = CarReader::new(source, CarLimits::default()).await.unwrap();
        assert_eq!(reader.roots(), roots);
        let mut read = Vec::new();
        while let Some(block) = reader.next_block().await.unwrap() {
            read.push(block);
        }
        assert_eq!(read, blocks);
        assert_eq!(reader.bytes_read(), car.len() as u64);
        assert_eq!(reader.blocks_read(), 3);
        assert!(reader.next_block().await.unwrap().is_none());
    }

    #[test]
    fn a_section_larger_than_the_preallocation_grows_and_reads_whole() {
        let big = vec![7u8; PREALLOCATE_MAX * 3 + 5];
        let cid = cid_for_raw(&big);
        let limits = CarLimits {
            max_block_bytes: big.len() as u64 + 64,
            ..CarLimits::default()
        };
        let car = encode_car(&[cid], [(cid, Bytes::from(big.clone()))]);
        let (_, blocks) = read_car(&car, limits).unwrap();
        assert_eq!(blocks, vec![(cid, Bytes::from(big))]);
        assert!(matches!(
            read_car(&car, CarLimits::default()),
            Err(CarError::BlockTooLarge { .. })
        ));
    }

    #[test]
    fn the_total_limit_counts_prefixes_header_and_sections() {
        let (roots, blocks) = sample();
        let car = encode_car(&roots, blocks);
        let exact = CarLimits {
            max_total_bytes: Some(car.len() as u64),
            ..CarLimits::default()
        };
        assert!(read_car(&car, exact).is_ok());
        let short = CarLimits {
            max_total_bytes: Some(car.len() as u64 - 1),
            ..CarLimits::default()
        };
        assert!(matches!(
            read_car(&car, short),
            Err(CarError::TotalTooLarge { .. })
        ));
    }

    #[test]
    fn an_empty_section_is_refused() {
        let mut car = encode_car(&[], []);
        car.push(0x00);
        assert!(matches!(
            read_car(&car, CarLimits::default()),
            Err(CarError::EmptySection)
        ));
    }
}
