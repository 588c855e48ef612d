//! Property tests of the codec over random data-model values: [`encode`] agrees byte for byte with
//! `serde_ipld_dagcbor`, [`decode`] reads back exactly what was written (by either encoder), and the JSON
//! mapping round-trips.

use ipld_core::ipld::Ipld;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

use super::{decode, encode, from_json, to_json, validate};
use crate::repo::cid::{cid_for_cbor, cid_for_raw, Cid};

fn arb_cid() -> impl Strategy<Value = Cid> {
    (any::<bool>(), vec(any::<u8>(), 0..8)).prop_map(|(raw, seed)| {
        if raw {
            cid_for_raw(&seed)
        } else {
            cid_for_cbor(&seed)
        }
    })
}

fn arb_integer() -> impl Strategy<Value = i64> {
    prop_oneof![
        -30i64..30,
        any::<i64>(),
        prop::sample::select(vec![
            i64::MIN,
            i64::MAX,
            23,
            24,
            255,
            256,
            65_535,
            65_536,
            u32::MAX.into(),
            1 << 32,
            -24,
            -25,
            -257,
        ]),
    ]
}

fn arb_key() -> impl Strategy<Value = String> {
    // Mostly short ASCII keys, so that sorting by length then bytes is exercised; some arbitrary ones.
    prop_oneof![3 => "[a-c$]{0,3}", 1 => ".{0,6}"]
}

fn arb_ipld() -> impl Strategy<Value = Ipld> {
    let leaf = prop_oneof![
        Just(Ipld::Null),
        any::<bool>().prop_map(Ipld::Bool),
        arb_integer().prop_map(|i| Ipld::Integer(i.into())),
        ".{0,12}".prop_map(Ipld::String),
        vec(any::<u8>(), 0..40).prop_map(Ipld::Bytes),
        arb_cid().prop_map(Ipld::Link),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..8).prop_map(Ipld::List),
            btree_map(arb_key(), inner, 0..8).prop_map(Ipld::Map),
        ]
    })
}

proptest! {
    #[test]
    fn encode_matches_serde_ipld_dagcbor_and_decodes_back(value in arb_ipld()) {
        let ours = encode(&value).unwrap();
        let theirs = serde_ipld_dagcbor::to_vec(&value).unwrap();
        prop_assert_eq!(&ours, &theirs);
        prop_assert_eq!(decode(&ours).unwrap(), value.clone());
        prop_assert_eq!(validate(&ours), Ok(()));
        let read_by_them: Ipld = serde_ipld_dagcbor::from_slice(&ours).unwrap();
        prop_assert_eq!(read_by_them, value);
    }

    #[test]
    fn values_without_reserved_keys_round_trip_through_json(value in arb_ipld()) {
        // Maps keyed `$link` / `$bytes`, or with a `$type`, are JSON-special; leave them out here.
        prop_assume!(!has_special_keys(&value));
        let json = to_json(&value);
        prop_assert_eq!(from_json(&json).unwrap(), value);
    }
}

fn has_special_keys(value: &Ipld) -> bool {
    match value {
        Ipld::List(items) => items.iter().any(has_special_keys),
        Ipld::Map(map) => map.iter().any(|(k, v)| {
            ["$link", "$bytes", "$type"].contains(&k.as_str()) || has_special_keys(v)
        }),
        _ => false,
    }
}
