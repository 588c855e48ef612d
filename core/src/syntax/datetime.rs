//! Datetimes in the lexicon `datetime` string format: parsing to UTC microseconds, and writing them.
//!
//! The format is the intersection of RFC 3339 and ISO 8601 that atproto allows:
//! `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` with exactly those digit counts, an uppercase `T`
//! and `Z`, a required timezone, at least one fraction digit when a `.` is present, no `-00:00`
//! ("unknown local offset"), and at most [`MAX_DATETIME_LEN`] characters. Beyond the shape, the value
//! must be a real instant: a month 1–12, a day that exists in that month (proleptic Gregorian calendar),
//! an hour 0–23, minutes and seconds 0–59 (leap seconds are refused), an offset below 24 hours, and,
//! once the offset is applied, not before year 0. Fraction digits past microseconds are ignored.

use super::error::excerpt;
use super::SyntaxError;

/// The longest datetime string accepted.
pub const MAX_DATETIME_LEN: usize = 64;

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// Days from 0000-01-01 to 1970-01-01 in the proleptic Gregorian calendar.
const DAYS_FROM_YEAR_0_TO_EPOCH: i64 = 719_528;

/// 0000-01-01T00:00:00Z in microseconds since the UNIX epoch: the earliest instant accepted.
pub const MIN_DATETIME_MICROS: i64 =
    -DAYS_FROM_YEAR_0_TO_EPOCH * SECONDS_PER_DAY * MICROS_PER_SECOND;

/// 9999-12-31T23:59:59.999999Z in microseconds since the UNIX epoch: the latest instant
/// [`format_datetime`] can write.
pub const MAX_FORMAT_MICROS: i64 = 253_402_300_800 * MICROS_PER_SECOND - 1;

/// Whether `s` is a valid atproto datetime: the right shape, and a real instant.
pub fn is_valid_datetime(s: &str) -> bool {
    parse(s).is_ok()
}

/// Parses an atproto datetime to microseconds since the UNIX epoch (UTC).
pub fn parse_datetime(s: &str) -> Result<i64, SyntaxError> {
    parse(s).map_err(|reason| SyntaxError::Datetime {
        value: excerpt(s),
        reason,
    })
}

/// Writes an instant (microseconds since the UNIX epoch) in the preferred atproto form,
/// `YYYY-MM-DDTHH:MM:SS.sssZ`, with millisecond precision (finer digits are dropped). Instants before
/// year 0 or after year 9999 cannot be written.
pub fn format_datetime(micros: i64) -> Result<String, SyntaxError> {
    if !(MIN_DATETIME_MICROS..=MAX_FORMAT_MICROS).contains(&micros) {
        return Err(SyntaxError::Datetime {
            value: micros.to_string(),
            reason: "instant outside the years 0000 to 9999",
        });
    }
    let seconds = micros.div_euclid(MICROS_PER_SECOND);
    let millis = micros.rem_euclid(MICROS_PER_SECOND) / 1000;
    let (days, second_of_day) = (
        seconds.div_euclid(SECONDS_PER_DAY),
        seconds.rem_euclid(SECONDS_PER_DAY),
    );
    let (year, month, day) = civil_from_days(days);
    Ok(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    ))
}

/// A reader over the bytes of a datetime string that never indexes out of bounds.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), &'static str> {
        if self.peek() != Some(byte) {
            return Err(reason);
        }
        self.pos += 1;
        Ok(())
    }

    /// Exactly `count` ASCII digits, as a number.
    fn digits(&mut self, count: usize) -> Result<i64, &'static str> {
        let mut value = 0i64;
        for _ in 0..count {
            match self.peek() {
                Some(b @ b'0'..=b'9') => value = value * 10 + i64::from(b - b'0'),
                _ => return Err("wrong number of digits in a field"),
            }
            self.pos += 1;
        }
        Ok(value)
    }
}

/// The instant `s` stands for, in microseconds since the UNIX epoch, or why it is not a datetime.
fn parse(s: &str) -> Result<i64, &'static str> {
    if s.len() > MAX_DATETIME_LEN {
        return Err("longer than 64 characters");
    }
    let mut c = Cursor {
        bytes: s.as_bytes(),
        pos: 0,
    };
    let year = c.digits(4)?;
    c.expect(b'-', "expected '-' after the year")?;
    let month = c.digits(2)?;
    c.expect(b'-', "expected '-' after the month")?;
    let day = c.digits(2)?;
    c.expect(b'T', "expected an uppercase 'T' after the date")?;
    let hour = c.digits(2)?;
    c.expect(b':', "expected ':' after the hour")?;
    let minute = c.digits(2)?;
    c.expect(b':', "expected ':' after the minutes")?;
    let second = c.digits(2)?;

    let mut micros = 0i64;
    if c.peek() == Some(b'.') {
        c.pos += 1;
        let mut count = 0usize;
        while let Some(b @ b'0'..=b'9') = c.peek() {
            if count < 6 {
                micros = micros * 10 + i64::from(b - b'0');
            }
            count += 1;
            c.pos += 1;
        }
        if count == 0 {
            return Err("no digits after '.'");
        }
        for _ in count..6 {
            micros *= 10;
        }
    }

    let offset_seconds = match c.peek() {
        Some(b'Z') => {
            c.pos += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let offset_hour = c.digits(2)?;
            c.expect(b':', "expected ':' in the offset")?;
            let offset_minute = c.digits(2)?;
            if offset_hour > 23 || offset_minute > 59 {
                return Err("offset out of range");
            }
            if sign == b'-' && offset_hour == 0 && offset_minute == 0 {
                return Err("\"-00:00\" is not allowed");
            }
            let seconds = offset_hour * 3600 + offset_minute * 60;
            if sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return Err("expected a timezone ('Z' or an offset)"),
    };
    if c.pos != c.bytes.len() {
        return Err("unexpected characters after the timezone");
    }

    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("day does not exist in that month");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("time of day out of range");
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset_seconds;
    let instant = seconds * MICROS_PER_SECOND + micros;
    if instant < MIN_DATETIME_MICROS {
        return Err("before year 0 once the offset is applied");
    }
    Ok(instant)
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year ≥ 0, month 1–12, valid day).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants_parse_to_their_microseconds() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_datetime("1985-04-12T23:20:50.123Z"),
            Ok(482_196_050_123_000)
        );
        assert_eq!(
            parse_datetime("1985-04-12T23:20:50.1234567Z"),
            Ok(482_196_050_123_456)
        );
        assert_eq!(
            parse_datetime("1985-04-13T00:20:50.123+01:00"),
            Ok(482_196_050_123_000)
        );
        assert_eq!(
            parse_datetime("1985-04-12T16:20:50.123-07:00"),
            Ok(482_196_050_123_000)
        );
        assert_eq!(
            parse_datetime("0000-01-01T00:00:00.000Z"),
            Ok(MIN_DATETIME_MICROS)
        );
    }

    #[test]
    fn leap_days_exist_only_in_leap_years() {
        assert!(is_valid_datetime("2024-02-29T00:00:00Z"));
        assert!(is_valid_datetime("2000-02-29T00:00:00Z"));
        assert!(is_valid_datetime("0000-02-29T00:00:00Z"));
        assert!(!is_valid_datetime("1900-02-29T00:00:00Z"));
        assert!(!is_valid_datetime("2023-02-29T00:00:00Z"));
        assert!(!is_valid_datetime("2023-04-31T00:00:00Z"));
    }

    #[test]
    fn leap_seconds_and_out_of_range_offsets_are_refused() {
        assert!(!is_valid_datetime("2016-12-31T23:59:60Z"));
        assert!(!is_valid_datetime("2016-12-31T23:59:59+24:00"));
        assert!(!is_valid_datetime("2016-12-31T23:59:59+01:60"));
        assert!(is_valid_datetime("2016-12-31T23:59:59+23:59"));
    }

    #[test]
    fn format_writes_milliseconds_and_refuses_unwritable_years() {
        assert_eq!(
            format_datetime(482_196_050_123_456).unwrap(),
            "1985-04-12T23:20:50.123Z"
        );
        assert_eq!(format_datetime(-1).unwrap(), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_datetime(MIN_DATETIME_MICROS).unwrap(),
            "0000-01-01T00:00:00.000Z"
        );
        assert_eq!(
            format_datetime(MAX_FORMAT_MICROS).unwrap(),
            "9999-12-31T23:59:59.999Z"
        );
        assert!(format_datetime(MIN_DATETIME_MICROS - 1).is_err());
        assert!(format_datetime(MAX_FORMAT_MICROS + 1).is_err());
        assert!(format_datetime(i64::MIN).is_err());
    }

    #[test]
    fn hostile_inputs_are_refused() {
        let long = format!("1985-04-12T23:20:50.{}Z", "1".repeat(64));
        for s in [
            "",
            "1985",
            "1985-04-12T23:20:50.123Zx",
            "1985-04-12T23:20:50.123+01:00:00",
            "１９８５-04-12T23:20:50Z",
            &long,
        ] {
            assert!(!is_valid_datetime(s), "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn formatted_instants_parse_back_to_the_millisecond(micros in MIN_DATETIME_MICROS..=MAX_FORMAT_MICROS) {
            let text = format_datetime(micros).unwrap();
            let back = parse_datetime(&text).unwrap();
            prop_assert_eq!(back, micros - micros.rem_euclid(1000));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,40}") {
            let _ = parse_datetime(&s);
        }

        #[test]
        fn datetime_shaped_strings_never_panic(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})") {
            let _ = parse_datetime(&s);
        }
    }
}
