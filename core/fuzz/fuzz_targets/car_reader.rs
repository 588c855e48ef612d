//! Fuzzes the CAR v1 reader: any input must yield blocks that hash to their CIDs, or an error; never a
//! panic, a hang or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pocketpds_core::repo::car::{read_car, CarLimits};
use pocketpds_core::repo::cid::verify_block;

fuzz_target!(|data: &[u8]| {
    if let Ok((_roots, blocks)) = read_car(data, CarLimits::default()) {
        for (cid, bytes) in &blocks {
            assert!(
                verify_block(cid, bytes),
                "a block passed that does not match {cid}"
            );
        }
    }
});
