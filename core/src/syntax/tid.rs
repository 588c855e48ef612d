//! Timestamp identifiers (TIDs): the [`Tid`] type, its base32-sortable string form, and the
//! process-wide monotonic generator used for record keys and repository revisions.
//!
//! A TID is a 64-bit integer whose top bit is 0, then 53 bits of microseconds since the UNIX epoch, then
//! a 10-bit clock identifier. Its string form is always 13 characters of the alphabet
//! `234567abcdefghijklmnopqrstuvwxyz`, most significant first, so string order equals numeric order.
//! Because the top bit is 0 the first character is one of `234567ab`.
//!
//! [`Tid::next`] never returns the same or a smaller value twice in one process, however many threads
//! call it: it keeps the last value in an atomic and moves to `max(now, last + 1 µs)` with a
//! compare-and-swap. The clock identifier is chosen at random once per process.

use std::cmp::Ordering as CmpOrdering;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::excerpt;
use super::SyntaxError;

/// The base32-sortable alphabet, in ascending order.
const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// The length of a TID string.
pub const TID_LEN: usize = 13;

/// The largest timestamp a TID holds, in microseconds since the UNIX epoch (2^53 − 1).
pub const MAX_TIMESTAMP_MICROS: u64 = (1 << 53) - 1;

/// The largest clock identifier (2^10 − 1).
pub const MAX_CLOCK_ID: u16 = (1 << 10) - 1;

/// The last TID value handed out by [`Tid::next`] in this process.
static LAST: AtomicU64 = AtomicU64::new(0);

/// This process's clock identifier, chosen at random on first use.
static CLOCK_ID: OnceLock<u16> = OnceLock::new();

/// Whether `s` is a valid TID string.
pub fn is_valid_tid(s: &str) -> bool {
    decode(s).is_ok()
}

/// The value of a base32-sortable character, or `None`.
fn char_value(b: u8) -> Option<u64> {
    match b {
        b'2'..=b'7' => Some(u64::from(b - b'2')),
        b'a'..=b'z' => Some(u64::from(b - b'a') + 6),
        _ => None,
    }
}

/// The integer a TID string stands for, or the reason it is not one.
fn decode(s: &str) -> Result<u64, &'static str> {
    if s.len() != TID_LEN {
        return Err("not 13 characters");
    }
    let mut value = 0u64;
    for (i, b) in s.bytes().enumerate() {
        let v = char_value(b).ok_or("character outside the base32-sortable alphabet")?;
        if i == 0 && v > 7 {
            return Err("the top bit is set");
        }
        value = (value << 5) | v;
    }
    Ok(value)
}

/// The 13 characters of a TID value (whose top bit is 0).
fn encode(value: u64) -> [u8; TID_LEN] {
    let mut out = [b'2'; TID_LEN];
    let mut v = value;
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET.get((v & 31) as usize).copied().unwrap_or(b'2');
        v >>= 5;
    }
    out
}

/// The current time in microseconds since the UNIX epoch, clamped to what a TID can hold (0 if the
/// clock is before the epoch).
fn now_micros() -> u64 {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    u64::try_from(micros)
        .unwrap_or(u64::MAX)
        .min(MAX_TIMESTAMP_MICROS)
}

/// This process's clock identifier.
fn process_clock_id() -> u16 {
    *CLOCK_ID.get_or_init(|| rand::random::<u16>() & MAX_CLOCK_ID)
}

/// A timestamp identifier. Ordering (derived from the integer) is the same as the order of the strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tid(u64);

impl Tid {
    /// Parses a 13-character TID string.
    pub fn parse(s: &str) -> Result<Tid, SyntaxError> {
        decode(s).map(Tid).map_err(|reason| SyntaxError::Tid {
            value: excerpt(s),
            reason,
        })
    }

    /// Builds a TID from a timestamp (microseconds since the UNIX epoch, at most
    /// [`MAX_TIMESTAMP_MICROS`]) and a clock identifier (at most [`MAX_CLOCK_ID`]).
    pub fn from_parts(timestamp_micros: u64, clock_id: u16) -> Result<Tid, SyntaxError> {
        if timestamp_micros > MAX_TIMESTAMP_MICROS {
            return Err(SyntaxError::Tid {
                value: format!("timestamp {timestamp_micros}"),
                reason: "timestamp needs more than 53 bits",
            });
        }
        if clock_id > MAX_CLOCK_ID {
            return Err(SyntaxError::Tid {
                value: format!("clock id {clock_id}"),
                reason: "clock id needs more than 10 bits",
            });
        }
        Ok(Tid((timestamp_micros << 10) | u64::from(clock_id)))
    }

    /// The TID whose integer form is `value`; refused if its top bit is set.
    pub fn from_u64(value: u64) -> Result<Tid, SyntaxError> {
        if value >> 63 != 0 {
            return Err(SyntaxError::Tid {
                value: value.to_string(),
                reason: "the top bit is set",
            });
        }
        Ok(Tid(value))
    }

    /// The integer form of this TID.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// The timestamp part: microseconds since the UNIX epoch.
    pub fn timestamp_micros(self) -> u64 {
        self.0 >> 10
    }

    /// The clock identifier part (0–1023).
    pub fn clock_id(self) -> u16 {
        (self.0 & u64::from(MAX_CLOCK_ID)) as u16
    }

    /// A new TID for the current time, greater than every TID this function returned before in this
    /// process (on any thread), using this process's random clock identifier.
    ///
    /// When called faster than once per microsecond, or when the clock steps back, the timestamp runs
    /// ahead of the clock by one microsecond per call until the clock catches up. (It saturates at
    /// [`MAX_TIMESTAMP_MICROS`], which is reached in the year 2255.)
    pub fn next() -> Tid {
        let clock_id = u64::from(process_clock_id());
        let mut last = LAST.load(Ordering::Relaxed);
        loop {
            let after_last = (last >> 10).saturating_add(1);
            let micros = now_micros().max(after_last).min(MAX_TIMESTAMP_MICROS);
            let candidate = (micros << 10) | clock_id;
            match LAST.compare_exchange_weak(last, candidate, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Tid(candidate),
                Err(seen) => last = seen,
            }
        }
    }

    /// A new TID greater than both `prev` and every TID [`Tid::next`] returned before, so that a
    /// repository revision keeps increasing even if the clock steps back. Fails only when `prev` holds
    /// the largest timestamp a TID can, so nothing greater exists.
    ///
    /// The process-wide generator moves only as [`Tid::next`] would: a far-future `prev` does not drag
    /// later calls of [`Tid::next`] along with it.
    pub fn next_after(prev: &Tid) -> Result<Tid, SyntaxError> {
        let candidate = Tid::next();
        if candidate > *prev {
            return Ok(candidate);
        }
        let timestamp = prev
            .timestamp_micros()
            .checked_add(1)
            .filter(|t| *t <= MAX_TIMESTAMP_MICROS);
        match timestamp {
            Some(t) => Tid::from_parts(t, process_clock_id()),
            None => Err(SyntaxError::Tid {
                value: prev.to_string(),
                reason: "no TID is greater",
            }),
        }
    }

    /// The 13 ASCII characters of this TID.
    pub fn to_bytes(self) -> [u8; TID_LEN] {
        encode(self.0)
    }
}

impl fmt::Display for Tid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = encode(self.0);
        // The alphabet is ASCII, so this never fails.
        f.write_str(std::str::from_utf8(&bytes).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for Tid {
    type Err = SyntaxError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tid::parse(s)
    }
}

impl PartialEq<str> for Tid {
    fn eq(&self, other: &str) -> bool {
        decode(other) == Ok(self.0)
    }
}

impl PartialOrd<str> for Tid {
    fn partial_cmp(&self, other: &str) -> Option<CmpOrdering> {
        decode(other).ok().map(|v| self.0.cmp(&v))
    }
}

impl serde::Serialize for Tid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = encode(self.0);
        serializer.serialize_str(std::str::from_utf8(&bytes).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> serde::Deserialize<'de> for Tid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::error::deserialize_parsed(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn zero_and_the_largest_value_have_the_documented_strings() {
        assert_eq!(Tid::from_parts(0, 0).unwrap().to_string(), "2222222222222");
        let max = Tid::from_parts(MAX_TIMESTAMP_MICROS, MAX_CLOCK_ID).unwrap();
        assert_eq!(max.to_string(), "bzzzzzzzzzzzz");
        assert_eq!(max.as_u64(), u64::MAX >> 1);
    }

    #[test]
    fn parts_are_read_back() {
        let tid = Tid::parse("3jzfcijpj2z2a").unwrap();
        let again = Tid::from_parts(tid.timestamp_micros(), tid.clock_id()).unwrap();
        assert_eq!(tid, again);
        assert_eq!(tid.to_string(), "3jzfcijpj2z2a");
        assert!(tid == *"3jzfcijpj2z2a");
    }

    #[test]
    fn out_of_range_parts_and_values_are_refused() {
        assert!(Tid::from_parts(MAX_TIMESTAMP_MICROS + 1, 0).is_err());
        assert!(Tid::from_parts(0, MAX_CLOCK_ID + 1).is_err());
        assert!(Tid::from_u64(1 << 63).is_err());
        assert_eq!(Tid::from_u64(5).unwrap().as_u64(), 5);
    }

    #[test]
    fn first_character_must_leave_the_top_bit_clear() {
        assert!(is_valid_tid("bzzzzzzzzzzzz"));
        assert!(!is_valid_tid("czzzzzzzzzzzz"));
        assert!(!is_valid_tid("jzzzzzzzzzzzz"));
    }

    #[test]
    fn hostile_inputs_are_refused() {
        for s in [
            "",
            "2",
            "222222222222é",
            "2222222222222 ",
            "22222222222\u{0}2",
            "ABCDEFGHIJKLM",
        ] {
            assert!(!is_valid_tid(s), "{s:?}");
        }
    }

    #[test]
    fn serde_uses_the_string() {
        let tid = Tid::parse("3jzfcijpj2z2a").unwrap();
        let json = serde_json::to_string(&tid).unwrap();
        assert_eq!(json, "\"3jzfcijpj2z2a\"");
        assert_eq!(serde_json::from_str::<Tid>(&json).unwrap(), tid);
        assert!(serde_json::from_str::<Tid>("\"3jzfcijpj2z2\"").is_err());
    }

    #[test]
    fn next_is_close_to_now_and_uses_one_clock_id() {
        let before = now_micros();
        let a = Tid::next();
        let b = Tid::next();
        assert!(b > a);
        assert_eq!(a.clock_id(), b.clock_id());
        // The generator runs ahead of the clock only by the number of calls made in this process.
        assert!(a.timestamp_micros() >= before);
    }

    #[test]
    fn next_after_exceeds_a_future_tid_without_moving_the_generator_there() {
        let far = Tid::from_parts(MAX_TIMESTAMP_MICROS - 10, 0).unwrap();
        let after = Tid::next_after(&far).unwrap();
        assert!(after > far);
        assert_eq!(after.timestamp_micros(), MAX_TIMESTAMP_MICROS - 9);
        assert!(Tid::next() < far);
    }

    #[test]
    fn next_after_an_old_tid_is_just_next() {
        let old = Tid::from_parts(1_000, 3).unwrap();
        let prev_next = Tid::next();
        let after = Tid::next_after(&old).unwrap();
        assert!(after > old);
        assert!(after > prev_next);
    }

    #[test]
    fn next_after_the_largest_tid_fails() {
        let max = Tid::from_parts(MAX_TIMESTAMP_MICROS, MAX_CLOCK_ID).unwrap();
        assert!(Tid::next_after(&max).is_err());
    }

    #[test]
    fn eight_threads_never_see_a_repeated_or_decreasing_tid() {
        const THREADS: usize = 8;
        const CALLS: usize = 50_000;
        let handles: Vec<_> = (0..THREADS)
            .map(|_| std::thread::spawn(|| (0..CALLS).map(|_| Tid::next()).collect::<Vec<_>>()))
            .collect();
        let mut all = HashSet::with_capacity(THREADS * CALLS);
        for handle in handles {
            let seq = handle.join().unwrap();
            assert!(
                seq.windows(2).all(|w| w[0] < w[1]),
                "a thread saw a non-increasing sequence"
            );
            all.extend(seq);
        }
        assert_eq!(all.len(), THREADS * CALLS, "some TID was handed out twice");
    }

    proptest! {
        #[test]
        fn parts_round_trip_through_the_string(micros in 0..=MAX_TIMESTAMP_MICROS, clock in 0..=MAX_CLOCK_ID) {
            let tid = Tid::from_parts(micros, clock).unwrap();
            let text = tid.to_string();
            prop_assert_eq!(text.len(), TID_LEN);
            prop_assert!(is_valid_tid(&text));
            let back = Tid::parse(&text).unwrap();
            prop_assert_eq!(back, tid);
            prop_assert_eq!(back.timestamp_micros(), micros);
            prop_assert_eq!(back.clock_id(), clock);
        }

        #[test]
        fn string_order_is_numeric_order(a in 0..=(u64::MAX >> 1), b in 0..=(u64::MAX >> 1)) {
            let (ta, tb) = (Tid::from_u64(a).unwrap(), Tid::from_u64(b).unwrap());
            prop_assert_eq!(ta.to_string().cmp(&tb.to_string()), a.cmp(&b));
            prop_assert_eq!(ta.cmp(&tb), a.cmp(&b));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,20}") {
            let _ = Tid::parse(&s);
        }
    }
}
