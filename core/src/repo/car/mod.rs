//! CAR v1 files: the streaming reader and writer, repository export, proof CARs and import verification.
//!
//! A CAR (`ipld.io/specs/transport/car/carv1`) is `varint(len) || header` followed by sections
//! `varint(len) || CID || block`, where the header is the DAG-CBOR map `{"roots": [CID...], "version": 1}`
//! and the varints are minimal unsigned LEB128. This module reads them with bounded memory, checking
//! every block against its CID ([`CarReader`], [`read_car`]), and writes them buffered
//! ([`CarWriter`], [`encode_car`], [`header_bytes`], [`section_bytes`]). It knows only bytes and
//! [`crate::repo::cid`]; what the blocks mean (commits, MST nodes, records) is for its callers.

mod error;
mod export;
mod header;
mod reader;
mod varint;
mod verify;
mod writer;

pub use error::CarError;
pub use export::{export_repo, record_proof_car};
pub use reader::{
    read_car, CarBlock, CarLimits, CarReader, DEFAULT_MAX_BLOCK_BYTES, DEFAULT_MAX_HEADER_BYTES,
    PREALLOCATE_MAX,
};
pub use verify::{import_car, stage_car, verify_repo, VerifiedRepo};
pub use writer::{
    encode_car, encode_section_into, header_bytes, section_bytes, CarWriter, WRITE_CHUNK,
};

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::*;
    use crate::repo::cid::{cid_for_cbor, cid_for_raw, Cid};

    fn blocks_strategy() -> impl Strategy<Value = Vec<(Cid, Bytes)>> {
        prop::collection::vec(
            (any::<bool>(), prop::collection::vec(any::<u8>(), 0..3000)),
            0..40,
        )
        .prop_map(|blocks| {
            blocks
                .into_iter()
                .map(|(raw, bytes)| {
                    let cid = if raw {
                        cid_for_raw(&bytes)
                    } else {
                        cid_for_cbor(&bytes)
                    };
                    (cid, Bytes::from(bytes))
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn written_cars_read_back_equal(blocks in blocks_strategy(), root_count in 0usize..4) {
            let roots: Vec<Cid> = blocks.iter().map(|(cid, _)| *cid).take(root_count).collect();
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let streamed = runtime.block_on(async {
                let mut writer = CarWriter::new(Vec::new(), &roots).unwrap();
                for (cid, bytes) in &blocks {
                    writer.write_block(cid, bytes).await.unwrap();
                }
                writer.finish().await.unwrap()
            });
            prop_assert_eq!(&streamed, &encode_car(&roots, blocks.clone()));

            let (read_roots, read_blocks) = read_car(&streamed, CarLimits::default()).unwrap();
            prop_assert_eq!(&read_roots, &roots);
            prop_assert_eq!(&read_blocks, &blocks);

            let streamed_back = runtime.block_on(async {
                let mut reader = CarReader::new(&streamed[..], CarLimits::default()).await.unwrap();
                prop_assert_eq!(reader.roots(), &roots[..]);
                let mut read = Vec::new();
                while let Some(block) = reader.next_block().await.unwrap() {
                    read.push(block);
                }
                prop_assert_eq!(reader.bytes_read(), streamed.len() as u64);
                prop_assert_eq!(reader.blocks_read(), blocks.len() as u64);
                Ok(read)
            })?;
            prop_assert_eq!(streamed_back, blocks);
        }
    }
}
