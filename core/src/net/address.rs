//! Which IP addresses outbound connections may reach: [`is_public_ip`] tells addresses of the public
//! internet from loopback, private, link-local, shared, documentation, multicast and reserved ones,
//! and [`AddressPolicy`] is the rule a client applies.

use std::net::IpAddr;

/// Which addresses an outbound client may connect to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AddressPolicy {
    /// Any address: for services the operator configured (the PLC directory, a relay).
    #[default]
    Any,
    /// Public addresses only: for URLs that come from requests or from the network.
    PublicOnly,
    /// Public and loopback addresses: the same URLs in development mode (`PDS_DEV_MODE`), so that
    /// tests can serve them on `127.0.0.1`. Private networks stay refused.
    PublicOrLoopback,
}

impl AddressPolicy {
    /// The policy for URLs the node did not choose: public only, loopback too in development mode.
    pub fn untrusted(dev_mode: bool) -> AddressPolicy {
        if dev_mode {
            AddressPolicy::PublicOrLoopback
        } else {
            AddressPolicy::PublicOnly
        }
    }

    /// Whether a connection to `ip` is allowed.
    pub fn allows(self, ip: IpAddr) -> bool {
        match self {
            AddressPolicy::Any => true,
            AddressPolicy::PublicOnly => is_public_ip(ip),
            AddressPolicy::PublicOrLoopback => is_public_ip(ip) || is_loopback(ip),
        }
    }

    /// Whether the host of a URL may be connected to as far as can be told without resolving it:
    /// an IP literal must be allowed; a name is checked when it is resolved.
    pub fn allows_host(self, host: Option<url::Host<&str>>) -> bool {
        match host {
            Some(url::Host::Domain(_)) => true,
            Some(url::Host::Ipv4(v4)) => self.allows(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => self.allows(IpAddr::V6(v6)),
            None => false,
        }
    }
}

/// Whether `ip` is a loopback address (IPv4-mapped IPv6 included).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether `ip` is an address on the public internet (not loopback, private, link-local, shared,
/// documentation, benchmarking, multicast, broadcast, unspecified or reserved).
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_ip(IpAddr::V4(v4));
            }
            let [first, second, ..] = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && second == 0x0db8
                || first == 0x0064 && second == 0xff9b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111"] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn development_mode_adds_loopback_and_nothing_else() {
        let dev = AddressPolicy::untrusted(true);
        let prod = AddressPolicy::untrusted(false);
        for ip in ["127.0.0.1", "127.5.6.7", "::1", "::ffff:127.0.0.1"] {
            assert!(dev.allows(ip.parse().unwrap()), "{ip}");
            assert!(!prod.allows(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "10.0.0.1",
            "192.168.0.1",
            "169.254.169.254",
            "fe80::1",
            "0.0.0.0",
        ] {
            assert!(!dev.allows(ip.parse().unwrap()), "{ip}");
            assert!(!prod.allows(ip.parse().unwrap()), "{ip}");
            assert!(AddressPolicy::Any.allows(ip.parse().unwrap()), "{ip}");
        }
        assert!(prod.allows("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn ip_literal_hosts_are_checked_and_names_left_to_the_resolver() {
        let host = |s: &str| url::Url::parse(s).unwrap();
        let prod = AddressPolicy::PublicOnly;
        assert!(prod.allows_host(host("https://example.com/").host()));
        assert!(prod.allows_host(host("https://8.8.8.8/").host()));
        assert!(!prod.allows_host(host("https://127.0.0.1/").host()));
        assert!(!prod.allows_host(host("https://[::1]/").host()));
        assert!(!prod.allows_host(host("https://[::ffff:a00:1]/").host()));
        assert!(!prod.allows_host(host("http://2130706433/").host()));
        assert!(!prod.allows_host(None));
    }
}
