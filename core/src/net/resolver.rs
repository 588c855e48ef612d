//! [`PublicOnlyResolver`]: the name resolver of clients that fetch URLs chosen by others. It asks
//! the system resolver (or a fixed answer, see [`PublicOnlyResolver::with_pinned`]) and keeps only
//! the addresses its [`AddressPolicy`] allows; a name left without any is an error, so the client
//! never connects. Because the check happens on the very addresses the connection uses, a name that
//! changes its answer between a check and the connection (DNS rebinding) gains nothing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::AddressPolicy;

/// The system resolver, keeping only the addresses a policy allows.
#[derive(Clone, Debug, Default)]
pub struct PublicOnlyResolver {
    policy: AddressPolicy,
    pinned: Arc<HashMap<String, Vec<SocketAddr>>>,
}

impl PublicOnlyResolver {
    /// A resolver applying `policy` to every answer.
    pub fn new(policy: AddressPolicy) -> PublicOnlyResolver {
        PublicOnlyResolver {
            policy,
            pinned: Arc::default(),
        }
    }

    /// The same resolver, answering `name` (no trailing dot) with `addrs`, added to any addresses
    /// pinned for it before, instead of asking the system — for tests, or an operator who pins a
    /// host. The policy still applies. A non-zero port in an address replaces the URL's default
    /// port (an explicit URL port wins).
    pub fn with_pinned(mut self, name: &str, addrs: Vec<SocketAddr>) -> PublicOnlyResolver {
        Arc::make_mut(&mut self.pinned)
            .entry(name.to_ascii_lowercase())
            .or_default()
            .extend(addrs);
        self
    }

    /// The addresses of `host` the policy allows, or why there are none.
    pub async fn lookup(&self, host: &str) -> Result<Vec<SocketAddr>, String> {
        let found: Vec<SocketAddr> = match self.pinned.get(&host.to_ascii_lowercase()) {
            Some(addrs) => addrs.clone(),
            None => tokio::net::lookup_host((host, 0))
                .await
                .map_err(|e| format!("{host}: {e}"))?
                .collect(),
        };
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|addr| self.policy.allows(addr.ip()))
            .collect();
        if allowed.is_empty() {
            return Err(match self.policy {
                AddressPolicy::PublicOrLoopback => {
                    format!("{host} does not resolve to a public address (or loopback)")
                }
                _ => format!("{host} does not resolve to a public address"),
            });
        }
        Ok(allowed)
    }
}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let addrs = this.lookup(name.as_str()).await?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn answers_are_filtered_by_the_policy() {
        let resolver = PublicOnlyResolver::new(AddressPolicy::PublicOnly)
            .with_pinned("mixed.example", vec![addr("10.0.0.1:0"), addr("8.8.8.8:0")])
            .with_pinned(
                "inside.example",
                vec![addr("192.168.1.1:0"), addr("[::1]:0")],
            );
        assert_eq!(
            resolver.lookup("MIXED.example").await.unwrap(),
            [addr("8.8.8.8:0")]
        );
        let err = resolver.lookup("inside.example").await.unwrap_err();
        assert!(err.contains("public address"), "{err}");
        let err = resolver.lookup("localhost").await.unwrap_err();
        assert!(err.contains("public address"), "{err}");
    }

    #[tokio::test]
    async fn development_mode_keeps_loopback_only() {
        let resolver = PublicOnlyResolver::new(AddressPolicy::PublicOrLoopback).with_pinned(
            "site.test",
            vec![addr("127.0.0.1:8080"), addr("10.0.0.1:80")],
        );
        assert_eq!(
            resolver.lookup("site.test").await.unwrap(),
            [addr("127.0.0.1:8080")]
        );
        assert!(!resolver.lookup("localhost").await.unwrap().is_empty());
    }
}
