//! Who is on the other end: the client address that login throttling and the per-node limits count
//! by. It is the socket's peer, unless the peer is one of the configured trusted proxies
//! (`PDS_TRUSTED_PROXIES`, addresses or CIDR blocks): then it is the right-most address of
//! `X-Forwarded-For` that is not itself a trusted proxy. An `X-Forwarded-For` from anyone else is
//! ignored, so a client cannot pick the address it is counted under.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::AppState;

/// An address block: an address and how many leading bits of it are fixed (`10.0.0.0/8`,
/// `::1/128`; a bare address is the block of that address alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    base: IpAddr,
    prefix: u8,
}

/// Why an address block could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpBlockError {
    /// The address part is not an IP address.
    #[error("not an IP address or CIDR block")]
    Address,
    /// The prefix is not a number up to the address's bit length.
    #[error("prefix length out of range")]
    Prefix,
}

impl std::str::FromStr for IpBlock {
    type Err = IpBlockError;

    fn from_str(text: &str) -> Result<IpBlock, IpBlockError> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let base: IpAddr = address.parse().map_err(|_| IpBlockError::Address)?;
        let base = base.to_canonical();
        let bits = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().map_err(|_| IpBlockError::Prefix)?,
            None => bits,
        };
        if prefix > bits {
            return Err(IpBlockError::Prefix);
        }
        Ok(IpBlock { base, prefix })
    }
}

impl IpBlock {
    /// Whether `addr` lies in the block (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.base, addr.to_canonical()) {
            (IpAddr::V4(base), IpAddr::V4(a)) => {
                same_prefix(&base.octets(), &a.octets(), self.prefix)
            }
            (IpAddr::V6(base), IpAddr::V6(a)) => {
                same_prefix(&base.octets(), &a.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn same_prefix(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a.get(..full) != b.get(..full) {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (a.get(full), b.get(full)) {
        (Some(x), Some(y)) => x & mask == y & mask,
        _ => false,
    }
}

/// The client address of a request from `peer` with `headers`, trusting the `X-Forwarded-For` of
/// the `trusted` proxies only. `None` when the peer is unknown (a request that did not come through
/// the node's listener).
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpBlock]) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    let is_trusted = |a: IpAddr| trusted.iter().any(|b| b.contains(a));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .map(|a| a.parse::<IpAddr>().map(|a| a.to_canonical()))
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    // Right to left: each trusted hop appended the address it saw; the first untrusted one is the
    // client (anything to its left was written by the client itself).
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !is_trusted(*a))
            .unwrap_or(peer),
    )
}

/// The extractor: the request's client address (see the module comment), `None` when unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddress(resolve(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn blocks_parse_and_contain_what_they_should() {
        let b: IpBlock = "10.1.0.0/16".parse().unwrap();
        assert!(b.contains(ip("10.1.200.3")));
        assert!(!b.contains(ip("10.2.0.1")));
        assert!(b.contains(ip("::ffff:10.1.0.9")));
        let odd: IpBlock = "192.168.1.128/25".parse().unwrap();
        assert!(odd.contains(ip("192.168.1.200")));
        assert!(!odd.contains(ip("192.168.1.127")));
        let one: IpBlock = "::1".parse().unwrap();
        assert!(one.contains(ip("::1")));
        assert!(!one.contains(ip("127.0.0.1")));
        assert!("0.0.0.0/0"
            .parse::<IpBlock>()
            .unwrap()
            .contains(ip("8.8.8.8")));
        for bad in [
            "",
            "nginx",
            "10.0.0.0/33",
            "::/129",
            "1.2.3.4/x",
            "1.2.3.4/-1",
        ] {
            assert!(bad.parse::<IpBlock>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let trusted = ["127.0.0.1".parse().unwrap()];
        let h = xff(&["203.0.113.7"]);
        assert_eq!(
            resolve(Some(ip("127.0.0.1")), &h, &trusted),
            Some(ip("203.0.113.7"))
        );
        // Anyone else's header is ignored.
        assert_eq!(
            resolve(Some(ip("198.51.100.2")), &h, &trusted),
            Some(ip("198.51.100.2"))
        );
        // No proxies configured: the peer, always.
        assert_eq!(
            resolve(Some(ip("127.0.0.1")), &h, &[]),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(resolve(None, &h, &trusted), None);
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client_and_forged_left_parts_do_not_count() {
        let trusted: Vec<IpBlock> =
            vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let h = xff(&["1.1.1.1, 203.0.113.7", "10.0.0.5"]);
        assert_eq!(
            resolve(Some(ip("127.0.0.1")), &h, &trusted),
            Some(ip("203.0.113.7"))
        );
        // Garbage in the header: the peer.
        let h = xff(&["not-an-address"]);
        assert_eq!(
            resolve(Some(ip("127.0.0.1")), &h, &trusted),
            Some(ip("127.0.0.1"))
        );
        // Only trusted hops: the left-most is as far as we can see; fall back to the peer.
        let h = xff(&["10.0.0.9"]);
        assert_eq!(
            resolve(Some(ip("127.0.0.1")), &h, &trusted),
            Some(ip("127.0.0.1"))
        );
    }
}
