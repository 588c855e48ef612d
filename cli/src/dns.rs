//! DNS TXT lookups for handle resolution (`_atproto.<handle>`), supplied to the node by the daemon:
//! a `hickory-resolver` stub resolver on the tokio runtime, reading the system configuration
//! (`/etc/resolv.conf`) or asking the one server `PDS_DNS_RESOLVER` names. The phone library has no
//! such resolver (it would grow the library, and phones have no `resolv.conf`); it resolves handles
//! by HTTPS only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use pocketpds_core::identity::{BoxFuture, DnsTxtResolver};

/// The longest one query waits for an answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);
/// Answers kept by the resolver itself (the node caches handle answers above it).
const CACHE_ENTRIES: u64 = 64;

/// TXT lookups through hickory.
pub struct HickoryTxt {
    resolver: TokioResolver,
}

impl HickoryTxt {
    /// A resolver asking `server` (UDP, then TCP for long answers), or the servers of the system
    /// configuration when `None`.
    pub fn new(server: Option<SocketAddr>) -> Result<HickoryTxt, String> {
        let mut builder = match server {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![server]),
                    Default::default(),
                )
            }
            None => TokioResolver::builder_tokio()
                .map_err(|e| format!("no system DNS configuration: {e}"))?,
        };
        let options: &mut ResolverOpts = builder.options_mut();
        options.timeout = QUERY_TIMEOUT;
        options.attempts = 1;
        options.cache_size = CACHE_ENTRIES;
        let resolver = builder.build().map_err(|e| format!("DNS resolver: {e}"))?;
        Ok(HickoryTxt { resolver })
    }

    /// The resolver for `server` as a node expects it, or `None` (with a warning) when the system
    /// has no usable configuration: handles then resolve by HTTPS only.
    pub fn for_node(server: Option<SocketAddr>) -> Option<Arc<dyn DnsTxtResolver>> {
        match HickoryTxt::new(server) {
            Ok(dns) => Some(Arc::new(dns)),
            Err(e) => {
                log::warn!("handles resolve by HTTPS only: {e}");
                None
            }
        }
    }
}

impl DnsTxtResolver for HickoryTxt {
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move {
            // A trailing dot: the name is complete, no search domain is appended.
            let fqdn = format!("{}.", name.trim_end_matches('.'));
            match self.resolver.txt_lookup(fqdn.as_str()).await {
                Ok(lookup) => Ok(lookup
                    .answers()
                    .iter()
                    .filter_map(|record| match &record.data {
                        RData::TXT(txt) => Some(
                            txt.txt_data
                                .iter()
                                .map(|part| String::from_utf8_lossy(part))
                                .collect::<String>(),
                        ),
                        _ => None,
                    })
                    .collect()),
                Err(e) if e.is_no_records_found() => Ok(Vec::new()),
                Err(e) => Err(e.to_string()),
            }
        })
    }
}
