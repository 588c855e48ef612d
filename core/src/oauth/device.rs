//! Remembered browsers ("devices") of the authorization page.
//!
//! A browser that opens the page gets a device row in the shared database and a cookie
//! `pocketpds-device=<id>.<secret>` (`HttpOnly`, `SameSite=Lax`, `Secure` when the public URL is
//! https, path `/oauth`). Only SHA-256 of the secret is stored. The secret is rotated when an
//! account signs in on the device and otherwise at most every [`ROTATE_AFTER_SECS`], by one
//! conditional UPDATE, so every node of a cluster recognises the browser and two nodes cannot both
//! rotate it.
//!
//! The secret replaced by the last rotation is still accepted for [`REPLAY_GRACE_SECS`], and only
//! from the client address the rotation was sent to (a second tab that loaded before the
//! rotation). Any other use of a replaced secret means the cookie was copied: the device is
//! forgotten, with every account remembered on it, and the request is treated as a new browser.
//!
//! The client address is the one every other per-address rule uses
//! ([`crate::http::client_address`]): the socket's peer, or — only when that peer is a trusted proxy
//! (`PDS_TRUSTED_PROXIES`) — the right-most `X-Forwarded-For` address that is not one. A browser
//! cannot choose the address its device is recorded under.

use std::net::IpAddr;

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};

use super::random::{constant_time_eq, is_id, random_id};
use super::OAuthError;
use crate::storage::oauth_store::{DeviceRotation, DeviceRow};
use crate::storage::OAuthStore;

/// The device cookie's name.
pub const DEVICE_COOKIE: &str = "pocketpds-device";
/// How long a device with no remembered account is kept after its last visit (one day).
pub const ANONYMOUS_DEVICE_SECS: i64 = 24 * 3600;
/// How long a device and its remembered accounts are kept after their last use (one year).
pub const REMEMBER_SECS: i64 = 365 * 24 * 3600;
/// The longest a device secret is used before it is rotated on the next visit (15 minutes).
pub const ROTATE_AFTER_SECS: i64 = 15 * 60;
/// How long a replaced secret is still accepted from the address the rotation went to.
pub const REPLAY_GRACE_SECS: i64 = 10;

/// A device cookie: `<id>.<secret>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCookie {
    /// The device id (`dev-…`).
    pub id: String,
    /// The secret.
    pub secret: String,
}

impl DeviceCookie {
    /// A new id with a new secret.
    pub fn generate() -> Result<DeviceCookie, OAuthError> {
        Ok(DeviceCookie {
            id: random_id::<16>("dev-")?,
            secret: random_id::<32>("")?,
        })
    }

    /// Reads a cookie value; `None` for anything not of the form.
    pub fn parse(value: &str) -> Option<DeviceCookie> {
        let (id, secret) = value.split_once('.')?;
        (is_id::<16>(id, "dev-") && is_id::<32>(secret, "")).then(|| DeviceCookie {
            id: id.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// The cookie value.
    pub fn value(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }

    /// SHA-256 of the secret, as stored.
    pub fn secret_hash(&self) -> Vec<u8> {
        hash(&self.secret)
    }

    /// The `Set-Cookie` header value; `secure` when the public URL is https.
    pub fn set_cookie(&self, secure: bool) -> String {
        format!(
            "{DEVICE_COOKIE}={}; Path=/oauth; HttpOnly; SameSite=Lax; Max-Age={REMEMBER_SECS}{}",
            self.value(),
            if secure { "; Secure" } else { "" }
        )
    }
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Who is asking: the browser's client address and `User-Agent`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client address, when known (a request that came through the node's listener).
    pub ip: Option<String>,
    /// The `User-Agent`, cut to 256 characters.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// The client of a request: `address` as [`ClientAddress`](crate::http::client_address::ClientAddress)
    /// resolved it, and the `User-Agent` of `headers`.
    pub fn new(address: Option<IpAddr>, headers: &HeaderMap) -> ClientInfo {
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect());
        ClientInfo {
            ip: address.map(|a| a.to_canonical().to_string()),
            user_agent,
        }
    }
}

/// What the cookie of a request says about its browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recognised {
    /// A known device with its current secret (or the previous one within the grace).
    Known {
        /// The device.
        device: DeviceRow,
        /// Whether the cookie carried the current secret (only then may it be rotated).
        current: bool,
    },
    /// No cookie, an unknown or expired device, or a wrong secret.
    Unknown,
    /// A replaced secret used after the grace or from another address: the device was forgotten.
    Replayed,
}

/// Recognises the device of a request's cookie (see the module notes).
pub async fn recognise(
    store: &OAuthStore,
    cookie: Option<&DeviceCookie>,
    client: &ClientInfo,
    now: i64,
) -> Result<Recognised, OAuthError> {
    let Some(cookie) = cookie else {
        return Ok(Recognised::Unknown);
    };
    let Some(device) = store.device(&cookie.id, now).await? else {
        return Ok(Recognised::Unknown);
    };
    let presented = cookie.secret_hash();
    if constant_time_eq(&presented, &device.secret_hash) {
        return Ok(Recognised::Known {
            device,
            current: true,
        });
    }
    let previous = device
        .previous_hash
        .as_deref()
        .is_some_and(|p| constant_time_eq(&presented, p));
    if !previous {
        return Ok(Recognised::Unknown);
    }
    if now - device.rotated_at <= REPLAY_GRACE_SECS && device.rotated_from == client.ip {
        return Ok(Recognised::Known {
            device,
            current: false,
        });
    }
    log::warn!(
        "oauth: a replaced device cookie was presented again (from {}); the device is forgotten",
        client.ip.as_deref().unwrap_or("an unknown address")
    );
    store.delete_device(&device.id).await?;
    Ok(Recognised::Replayed)
}

/// Creates a device for a browser the server does not know; returns its cookie.
pub async fn create(
    store: &OAuthStore,
    client: &ClientInfo,
    now: i64,
) -> Result<DeviceCookie, OAuthError> {
    let cookie = DeviceCookie::generate()?;
    store
        .insert_device(&DeviceRow {
            id: cookie.id.clone(),
            secret_hash: cookie.secret_hash(),
            previous_hash: None,
            rotated_at: now,
            rotated_from: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            ip_address: client.ip.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + ANONYMOUS_DEVICE_SECS,
        })
        .await?;
    Ok(cookie)
}

/// Rotates the secret of a device whose cookie carried `old` (the current secret); returns the new
/// cookie, or `None` when another request rotated it first. `expires_at` extends its life.
pub async fn rotate(
    store: &OAuthStore,
    old: &DeviceCookie,
    client: &ClientInfo,
    now: i64,
    expires_at: i64,
) -> Result<Option<DeviceCookie>, OAuthError> {
    let new = DeviceCookie {
        id: old.id.clone(),
        secret: random_id::<32>("")?,
    };
    let rotated = store
        .rotate_device(&DeviceRotation {
            id: &old.id,
            old_hash: &old.secret_hash(),
            new_hash: &new.secret_hash(),
            now,
            ip_address: client.ip.as_deref(),
            user_agent: client.user_agent.as_deref(),
            expires_at,
        })
        .await?;
    Ok(rotated.then_some(new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    #[test]
    fn cookies_round_trip_and_malformed_ones_are_refused() {
        let c = DeviceCookie::generate().unwrap();
        assert_eq!(DeviceCookie::parse(&c.value()), Some(c.clone()));
        assert!(c.set_cookie(true).contains("; Secure"));
        assert!(c.set_cookie(true).contains("HttpOnly; SameSite=Lax"));
        assert!(!c.set_cookie(false).contains("Secure"));
        for bad in [
            "",
            "dev-abc",
            &c.id,
            &format!("{}.", c.id),
            &format!("{}.{}x", c.id, c.secret),
            &format!("req-{}", &c.value()[4..]),
        ] {
            assert!(DeviceCookie::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_resolved_address_never_a_header_the_browser_writes() {
        use crate::http::client_address::{resolve, IpBlock};
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.7".parse().unwrap());
        h.insert("x-real-ip", "198.51.100.9".parse().unwrap());
        h.insert(header::USER_AGENT, "x".repeat(300).parse().unwrap());
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        let proxy: Vec<IpBlock> = vec!["192.0.2.1".parse().unwrap()];
        // A browser that is not behind a trusted proxy is recorded under its peer address.
        let direct = ClientInfo::new(resolve(Some(peer), &h, &[]), &h);
        assert_eq!(direct.ip.as_deref(), Some("192.0.2.1"));
        assert_eq!(direct.user_agent.as_deref().map(str::len), Some(256));
        // Behind one, under the address the proxy forwarded (X-Real-IP counts for nothing).
        let proxied = ClientInfo::new(resolve(Some(peer), &h, &proxy), &h);
        assert_eq!(proxied.ip.as_deref(), Some("203.0.113.7"));
        // IPv4-mapped IPv6 peers are written as IPv4, so one browser has one address.
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(
            ClientInfo::new(Some(mapped), &HeaderMap::new())
                .ip
                .as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(ClientInfo::new(None, &h).ip, None);
    }

    #[tokio::test]
    async fn a_replaced_secret_is_honoured_briefly_from_the_same_address_only() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open_local(&dir.path().join("db")).await.unwrap();
        let store = OAuthStore::new(storage.connect().await.unwrap());
        let here = ClientInfo {
            ip: Some("127.0.0.1".into()),
            user_agent: None,
        };
        let there = ClientInfo {
            ip: Some("127.0.0.2".into()),
            user_agent: None,
        };
        let first = create(&store, &here, 100).await.unwrap();
        let second = rotate(&store, &first, &here, 110, 500)
            .await
            .unwrap()
            .unwrap();
        // The loser of a race gets nothing.
        assert!(rotate(&store, &first, &here, 111, 500)
            .await
            .unwrap()
            .is_none());
        assert!(matches!(
            recognise(&store, Some(&second), &there, 111).await.unwrap(),
            Recognised::Known { current: true, .. }
        ));
        assert!(matches!(
            recognise(&store, Some(&first), &here, 115).await.unwrap(),
            Recognised::Known { current: false, .. }
        ));
        let forged = DeviceCookie {
            id: first.id.clone(),
            secret: random_id::<32>("").unwrap(),
        };
        assert_eq!(
            recognise(&store, Some(&forged), &here, 115).await.unwrap(),
            Recognised::Unknown
        );
        // The old secret from another address: the device is forgotten, new secret and all.
        assert_eq!(
            recognise(&store, Some(&first), &there, 115).await.unwrap(),
            Recognised::Replayed
        );
        assert_eq!(
            recognise(&store, Some(&second), &here, 116).await.unwrap(),
            Recognised::Unknown
        );
    }
}
