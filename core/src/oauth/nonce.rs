//! DPoP nonces that every node of a cluster derives alike, with no coordination: the nonce of a
//! minute is `base64url(HMAC-SHA256(secret, u64_be(floor(now_ms / 60000))))`, and the previous,
//! current and next minutes' nonces are accepted. This is the reference PDS's algorithm with its
//! default rotation interval, so given the same `PDS_DPOP_SECRET` the nonces are bit-compatible
//! with it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Length of the nonce secret, in bytes (`PDS_DPOP_SECRET` is its 64 hex digits).
pub const SECRET_LEN: usize = 32;
/// How long one nonce is the current one, in milliseconds.
pub const ROTATION_MS: u64 = 60_000;

/// Why a nonce secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NonceSecretError {
    /// The secret is not 32 bytes (64 hex digits).
    #[error("the DPoP secret must be {SECRET_LEN} bytes (64 hex characters)")]
    Length,
}

/// Derives and checks DPoP nonces from a secret shared by the cluster. Its secret never appears in
/// `Debug` output.
#[derive(Clone)]
pub struct DpopNonces {
    secret: [u8; SECRET_LEN],
}

impl std::fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DpopNonces(..)")
    }
}

impl DpopNonces {
    /// Nonces keyed with the 32-byte `secret`.
    pub fn new(secret: &[u8]) -> Result<DpopNonces, NonceSecretError> {
        let secret: [u8; SECRET_LEN] = secret.try_into().map_err(|_| NonceSecretError::Length)?;
        Ok(DpopNonces { secret })
    }

    /// Nonces keyed with the secret written as 64 hex digits (`PDS_DPOP_SECRET`).
    pub fn from_hex(text: &str) -> Result<DpopNonces, NonceSecretError> {
        let mut secret = [0u8; SECRET_LEN];
        hex::decode_to_slice(text, &mut secret).map_err(|_| NonceSecretError::Length)?;
        Ok(DpopNonces { secret })
    }

    /// The nonce of rotation period `counter`.
    pub fn nonce_for(&self, counter: u64) -> String {
        // HMAC takes keys of any length, so building it cannot fail.
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(&counter.to_be_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The nonce to hand out at `now_ms` (milliseconds since the epoch): the next period's, as the
    /// reference does, so that it stays valid for the longest time.
    pub fn next(&self, now_ms: u64) -> String {
        self.nonce_for(counter(now_ms).saturating_add(1))
    }

    /// Whether `nonce` is the previous, current or next period's nonce at `now_ms`. Compared in
    /// constant time.
    pub fn check(&self, nonce: &str, now_ms: u64) -> bool {
        let now = counter(now_ms);
        let mut found = false;
        for c in [now.saturating_sub(1), now, now.saturating_add(1)] {
            found |= constant_time_eq(self.nonce_for(c).as_bytes(), nonce.as_bytes());
        }
        found
    }
}

fn counter(now_ms: u64) -> u64 {
    now_ms / ROTATION_MS
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn nonce_is_the_reference_algorithm() {
        let nonces = DpopNonces::from_hex(SECRET_HEX).unwrap();
        // Computed with the reference provider's code (`createHmac('sha256', secret)
        // .update(numTo64bits(28000000)).digest().toString('base64url')`) under Node.js.
        assert_eq!(
            nonces.nonce_for(28_000_000),
            "0COzRX1RtZFE231G704TuGbcVnWKwumxlHUSZikqACo"
        );
    }

    #[test]
    fn previous_current_and_next_minutes_are_accepted_and_no_others() {
        let nonces = DpopNonces::from_hex(SECRET_HEX).unwrap();
        let now_ms = 1_700_000_000_000u64;
        let c = now_ms / ROTATION_MS;
        for accepted in [c - 1, c, c + 1] {
            assert!(nonces.check(&nonces.nonce_for(accepted), now_ms));
        }
        for refused in [c - 2, c + 2, 0] {
            assert!(!nonces.check(&nonces.nonce_for(refused), now_ms));
        }
        assert!(!nonces.check("", now_ms));
        assert!(!nonces.check(&"A".repeat(10_000), now_ms));
        // What a node hands out is still accepted by another node one minute later.
        let handed = nonces.next(now_ms);
        assert!(nonces.check(&handed, now_ms + ROTATION_MS));
        assert!(nonces.check(&handed, now_ms + 2 * ROTATION_MS));
    }

    #[test]
    fn two_nodes_with_one_secret_agree_and_other_secrets_do_not() {
        let a = DpopNonces::from_hex(SECRET_HEX).unwrap();
        let b = DpopNonces::new(&hex::decode(SECRET_HEX).unwrap()).unwrap();
        let other = DpopNonces::new(&[7u8; 32]).unwrap();
        let now = 1_700_000_123_456;
        assert_eq!(a.next(now), b.next(now));
        assert!(b.check(&a.next(now), now));
        assert!(!other.check(&a.next(now), now));
    }

    #[test]
    fn bad_secrets_are_refused() {
        assert!(DpopNonces::new(&[0u8; 31]).is_err());
        assert!(DpopNonces::from_hex("abc").is_err());
        assert!(DpopNonces::from_hex(&"zz".repeat(32)).is_err());
        assert!(!format!("{:?}", DpopNonces::new(&[9u8; 32]).unwrap()).contains('9'));
    }
}
