//! Hostile CAR input: every malformed file must end in an error, never a panic or an unbounded
//! allocation.
mod common;

use bytes::Bytes;
use pocketpds_core::repo::car::{
    encode_car, header_bytes, read_car, section_bytes, CarError, CarLimits, CarReader,
};
use pocketpds_core::repo::cid::{cid_for, cid_for_cbor, cid_for_raw, Cid, CidError};
use proptest::prelude::*;

fn limits() -> CarLimits {
    CarLimits::default()
}

/// A valid CAR and the byte offsets at which it may end validly (after the header, after each section).
fn valid_car() -> (Vec<u8>, Vec<usize>, Vec<(Cid, Bytes)>) {
    let blocks: Vec<(Cid, Bytes)> = vec![
        (
            cid_for_cbor(b"\xa1aa\x01"),
            Bytes::from_static(b"\xa1aa\x01"),
        ),
        (cid_for_raw(b"a blob"), Bytes::from_static(b"a blob")),
        (cid_for_cbor(&[0x80; 300]), Bytes::from(vec![0x80; 300])),
        (cid_for_raw(b""), Bytes::new()),
    ];
    let mut car = header_bytes(&[blocks[0].0]);
    let mut boundaries = vec![car.len()];
    for (cid, bytes) in &blocks {
        car.extend(section_bytes(cid, bytes));
        boundaries.push(car.len());
    }
    (car, boundaries, blocks)
}

/// A varint written the long way: `value` padded to `len` bytes with continuation bits.
fn padded_varint(value: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = value;
    for i in 0..len {
        let mut byte = (rest & 0x7f) as u8;
        rest >>= 7;
        if i + 1 < len {
            byte |= 0x80;
        }
        out.push(byte);
    }
    out
}

/// A CAR whose header is the given DAG-CBOR bytes.
fn car_with_header(header: &[u8]) -> Vec<u8> {
    let mut car = vec![header.len() as u8];
    car.extend_from_slice(header);
    car
}

fn text(out: &mut Vec<u8>, s: &str) {
    out.push(0x60 | s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

#[test]
fn a_car_cut_at_any_byte_is_an_error_unless_cut_between_sections() {
    let (car, boundaries, blocks) = valid_car();
    for end in 0..=car.len() {
        let result = read_car(&car[..end], limits());
        match boundaries.iter().position(|&b| b == end) {
            Some(sections) => {
                let (roots, read) = result.unwrap_or_else(|e| panic!("cut at {end}: {e}"));
                assert_eq!(roots, vec![blocks[0].0]);
                assert_eq!(read, blocks[..sections].to_vec(), "cut at {end}");
            }
            None => assert!(
                matches!(result, Err(CarError::Truncated)),
                "cut at {end}: {result:?}"
            ),
        }
    }
}

#[tokio::test]
async fn the_streaming_reader_reports_a_cut_section_as_truncated() {
    let (car, boundaries, _) = valid_car();
    let cut = &car[..boundaries[2] + 3];
    let mut reader = CarReader::new(cut, limits()).await.unwrap();
    assert!(reader.next_block().await.unwrap().is_some());
    assert!(reader.next_block().await.unwrap().is_some());
    assert!(matches!(
        reader.next_block().await,
        Err(CarError::Truncated)
    ));
    assert_eq!(reader.blocks_read(), 2);
    assert_eq!(reader.bytes_read(), boundaries[2] as u64);
}

#[test]
fn a_block_that_does_not_hash_to_its_cid_is_refused() {
    let cid = cid_for_cbor(b"\xa0");
    let car = encode_car(&[cid], [(cid, Bytes::from_static(b"\xa1"))]);
    match read_car(&car, limits()) {
        Err(CarError::HashMismatch { cid: bad }) => assert_eq!(bad, cid),
        other => panic!("expected a hash mismatch, got {other:?}"),
    }
}

#[test]
fn a_flipped_bit_in_a_block_is_caught() {
    let (car, boundaries, _) = valid_car();
    let mut corrupt = car.clone();
    let last_byte_of_third_block = boundaries[3] - 1;
    corrupt[last_byte_of_third_block] ^= 0x01;
    assert!(matches!(
        read_car(&corrupt, limits()),
        Err(CarError::HashMismatch { .. })
    ));
}

#[test]
fn a_section_claiming_two_to_the_62_bytes_is_refused_before_allocating() {
    let mut car = header_bytes(&[]);
    car.extend(padded_varint(1 << 62, 9));
    car.extend_from_slice(&[0x01, 0x71]);
    match read_car(&car, limits()) {
        Err(CarError::BlockTooLarge { len, max }) => {
            assert_eq!(len, 1 << 62);
            assert_eq!(max, limits().max_block_bytes);
        }
        other => panic!("expected BlockTooLarge, got {other:?}"),
    }
    // Even with no block limit, the claim alone allocates only a bounded buffer before the input runs out.
    let lax = CarLimits {
        max_block_bytes: u64::MAX,
        ..limits()
    };
    assert!(matches!(read_car(&car, lax), Err(CarError::Truncated)));
}

#[test]
fn a_header_claiming_a_huge_length_is_refused() {
    let mut car = padded_varint((1 << 63) - 1, 9);
    car.extend_from_slice(&[0xa2; 16]);
    assert!(matches!(
        read_car(&car, limits()),
        Err(CarError::HeaderTooLarge { .. })
    ));
    let mut just_over = padded_varint(64 * 1024 + 1, 3);
    just_over.extend_from_slice(&[0xa2; 16]);
    assert!(matches!(
        read_car(&just_over, limits()),
        Err(CarError::HeaderTooLarge { len: 65537, .. })
    ));
}

#[test]
fn overlong_and_non_minimal_varints_are_refused() {
    let header = header_bytes(&[]);
    let body = &header[1..];
    // The header length padded with a needless zero continuation byte.
    let mut padded = padded_varint(body.len() as u64, 2);
    padded.extend_from_slice(body);
    assert!(matches!(
        read_car(&padded, limits()),
        Err(CarError::BadVarint(_))
    ));
    // Ten and eleven bytes of varint.
    for len in [10, 11] {
        let mut long = vec![0x80; len - 1];
        long.push(0x01);
        assert!(matches!(
            read_car(&long, limits()),
            Err(CarError::BadVarint(_))
        ));
        let mut section = header.clone();
        section.extend_from_slice(&long);
        assert!(matches!(
            read_car(&section, limits()),
            Err(CarError::BadVarint(_))
        ));
    }
    // A section length padded to two bytes.
    let cid = cid_for_cbor(b"\xa0");
    let section = section_bytes(&cid, b"\xa0");
    let mut car = header.clone();
    car.extend(padded_varint(u64::from(section[0]), 2));
    car.extend_from_slice(&section[1..]);
    assert!(matches!(
        read_car(&car, limits()),
        Err(CarError::BadVarint(_))
    ));
}

#[test]
fn a_header_with_version_2_is_unsupported() {
    let mut header = vec![0xa2];
    text(&mut header, "roots");
    header.push(0x80);
    text(&mut header, "version");
    header.push(0x02);
    assert!(matches!(
        read_car(&car_with_header(&header), limits()),
        Err(CarError::UnsupportedVersion(2))
    ));
    // A CARv2 file starts with the pragma {"version": 2}.
    let mut pragma = vec![0xa1];
    text(&mut pragma, "version");
    pragma.push(0x02);
    assert!(matches!(
        read_car(&car_with_header(&pragma), limits()),
        Err(CarError::UnsupportedVersion(2))
    ));
}

#[test]
fn a_header_that_is_not_a_map_is_refused() {
    for header in [&[0x80][..], &[0x01], &[0x60], &[0xf6], &[0x40]] {
        assert!(
            matches!(
                read_car(&car_with_header(header), limits()),
                Err(CarError::BadHeader(_))
            ),
            "header {header:x?}"
        );
    }
    assert!(matches!(
        read_car(&[0x00], limits()),
        Err(CarError::BadHeader(_))
    ));
}

#[test]
fn a_header_with_an_extra_key_is_refused() {
    // The specification's header schema has exactly `roots` and `version` (see the header module).
    let mut header = vec![0xa3];
    text(&mut header, "roots");
    header.push(0x80);
    text(&mut header, "version");
    header.push(0x01);
    text(&mut header, "comment");
    text(&mut header, "hi");
    assert!(matches!(
        read_car(&car_with_header(&header), limits()),
        Err(CarError::BadHeader(_))
    ));
}

#[test]
fn a_header_with_no_roots_is_accepted() {
    let car = encode_car(&[], []);
    let (roots, blocks) = read_car(&car, limits()).unwrap();
    assert!(roots.is_empty());
    assert!(blocks.is_empty());
}

#[test]
fn a_section_with_a_dag_pb_cid_is_refused() {
    let cid = cid_for(0x70, b"\x0a\x00");
    let car = encode_car(&[], [(cid, Bytes::from_static(b"\x0a\x00"))]);
    assert!(matches!(
        read_car(&car, limits()),
        Err(CarError::BadCid(CidError::Codec(0x70)))
    ));
    let as_root = encode_car(&[cid], []);
    assert!(matches!(
        read_car(&as_root, limits()),
        Err(CarError::BadCid(CidError::Codec(0x70)))
    ));
}

#[test]
fn a_section_with_a_cidv0_or_a_garbled_cid_is_refused() {
    let v0 = Cid::try_from("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n").unwrap();
    let car = encode_car(&[], [(v0, Bytes::from_static(b"x"))]);
    assert!(matches!(
        read_car(&car, limits()),
        Err(CarError::BadCid(CidError::Version0))
    ));
    let mut garbled = header_bytes(&[]);
    garbled.extend_from_slice(&[0x04, 0x01, 0x71, 0x12, 0x20]);
    assert!(matches!(
        read_car(&garbled, limits()),
        Err(CarError::BadCid(CidError::Malformed(_)))
    ));
}

#[test]
fn empty_input_is_truncated() {
    assert!(matches!(read_car(&[], limits()), Err(CarError::Truncated)));
}

#[tokio::test]
async fn the_streaming_reader_refuses_empty_input() {
    assert!(matches!(
        CarReader::new(&[][..], limits()).await,
        Err(CarError::Truncated)
    ));
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = read_car(&bytes, limits());
    }

    #[test]
    fn random_bytes_after_a_valid_header_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..2048)
    ) {
        let mut car = header_bytes(&[cid_for_cbor(b"\xa0")]);
        car.extend_from_slice(&tail);
        let _ = read_car(&car, limits());
    }

    #[test]
    fn a_mutated_valid_car_never_panics_and_changed_blocks_never_pass(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        let (car, _, _) = valid_car();
        let mut mutated = car;
        for (index, byte) in edits {
            let at = index.index(mutated.len());
            mutated[at] = byte;
        }
        if let Ok((_, read)) = read_car(&mutated, limits()) {
            // Whatever parses must still be content-addressed correctly.
            for (cid, bytes) in read {
                prop_assert!(pocketpds_core::repo::cid::verify_block(&cid, &bytes));
            }
        }
    }
}
