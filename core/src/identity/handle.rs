//! Handle → DID resolution (atproto handle specification, "Handle Resolution"): the DNS TXT record
//! `_atproto.<handle>` holding `did=<did>`, and the HTTPS well-known method,
//! `https://<handle>/.well-known/atproto-did` answering the DID as text.
//!
//! DNS: this crate ships no DNS resolver. The well-kept Rust resolver (hickory) is large and reads
//! `/etc/resolv.conf`, which phones do not have; a node supplies TXT lookups through
//! [`DnsTxtResolver`] instead (the platform's resolver on a phone, a resolver crate on a server).
//! Without one, only the HTTPS method is used. The rules for the answers are implemented here:
//! records not starting `did=` are ignored, several records naming different DIDs fail.
//!
//! Development mode: a `.test` handle (which resolves only then) is fetched over plain http, as no
//! public certificate authority signs `.test` names; every other handle uses https as always.

use std::sync::Arc;

use reqwest::Url;

use super::error::{excerpt, IdentityError};
use super::http::{BoxFuture, HttpFetch};
use crate::syntax::{Did, Handle};

/// The largest well-known answer read (a DID is at most 2048 bytes).
const MAX_WELL_KNOWN_BYTES: usize = 4096;
/// The DNS name prefix of handle records.
const TXT_PREFIX: &str = "_atproto.";
/// The prefix of a handle record's value.
const TXT_VALUE_PREFIX: &str = "did=";

/// DNS TXT lookups, supplied by the platform or the node.
pub trait DnsTxtResolver: Send + Sync {
    /// The TXT records at `name`, each the concatenation of its character strings. No record (or no
    /// such name) is `Ok` with an empty list; `Err` is a failure of the lookup itself.
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, String>>;
}

/// Refuses handles whose resolution must fail: disallowed top-level domains (`.local`, `.onion`,
/// `.invalid`, ...), and `.test` outside development mode.
pub(crate) fn check_resolvable(handle: &Handle, dev_mode: bool) -> Result<(), IdentityError> {
    let refuse = |reason| IdentityError::UnresolvableHandle {
        handle: handle.to_string(),
        reason,
    };
    if handle.has_disallowed_tld() {
        return Err(refuse("its top-level domain is reserved"));
    }
    if !dev_mode && handle.as_str().ends_with(".test") {
        return Err(refuse(".test handles resolve only in development mode"));
    }
    Ok(())
}

/// The DID of a handle's TXT records: `Ok(None)` when none starts with `did=`.
pub(crate) fn did_from_txt_records(
    handle: &Handle,
    records: &[String],
) -> Result<Option<Did>, IdentityError> {
    let mut found: Option<Did> = None;
    for value in records {
        let Some(did) = value.strip_prefix(TXT_VALUE_PREFIX) else {
            continue;
        };
        let did = Did::parse(did.trim())?;
        match &found {
            Some(earlier) if *earlier != did => {
                return Err(IdentityError::AmbiguousHandle(handle.to_string()))
            }
            _ => found = Some(did),
        }
    }
    Ok(found)
}

/// The DID in a well-known answer: the body, trimmed of surrounding whitespace.
pub(crate) fn did_from_well_known(body: &[u8]) -> Result<Did, IdentityError> {
    let text = std::str::from_utf8(body).map_err(|_| IdentityError::InvalidJson {
        url: "/.well-known/atproto-did".into(),
        reason: "not UTF-8 text".into(),
    })?;
    Ok(Did::parse(text.trim())?)
}

/// Resolves handles to DIDs (one direction only; the resolver adds the check back).
#[derive(Clone)]
pub(crate) struct HandleResolver {
    pub(crate) http: Arc<dyn HttpFetch>,
    pub(crate) dns: Option<Arc<dyn DnsTxtResolver>>,
    pub(crate) dev_mode: bool,
}

impl HandleResolver {
    /// The DID `handle` names: by DNS when a resolver is configured and has a record (DNS wins over
    /// HTTPS, as the specification prefers), else by the HTTPS well-known method.
    pub(crate) async fn resolve(&self, handle: &Handle) -> Result<Did, IdentityError> {
        check_resolvable(handle, self.dev_mode)?;
        let mut dns_error = None;
        if let Some(dns) = &self.dns {
            let name = format!("{TXT_PREFIX}{}", handle.as_str());
            match dns.txt(&name).await {
                Ok(records) => {
                    if let Some(did) = did_from_txt_records(handle, &records)? {
                        return Ok(did);
                    }
                }
                Err(reason) => {
                    dns_error = Some(IdentityError::Dns {
                        name,
                        reason: excerpt(&reason),
                    })
                }
            }
        }
        match (self.well_known(handle).await, dns_error) {
            (Ok(did), _) => Ok(did),
            // When both methods fail, a DNS failure says more than "not found" over HTTPS.
            (Err(IdentityError::NotFound(_)), Some(dns_error)) => Err(dns_error),
            (Err(e), _) => Err(e),
        }
    }

    async fn well_known(&self, handle: &Handle) -> Result<Did, IdentityError> {
        let text = well_known_url(handle, self.dev_mode);
        let url = Url::parse(&text).map_err(|_| IdentityError::InvalidUrl {
            url: excerpt(&text),
            reason: "not an absolute URL",
        })?;
        let response = self
            .http
            .get(&url, "text/plain", MAX_WELL_KNOWN_BYTES)
            .await?;
        match response.status {
            200..=299 => did_from_well_known(&response.body),
            404 => Err(IdentityError::NotFound(handle.to_string())),
            status => Err(IdentityError::HttpStatus {
                url: excerpt(url.as_str()),
                status,
                message: response.body_excerpt(),
            }),
        }
    }
}

/// The well-known URL of `handle`: https, or plain http for a `.test` handle in development mode.
fn well_known_url(handle: &Handle, dev_mode: bool) -> String {
    let scheme = if dev_mode && handle.as_str().ends_with(".test") {
        "http"
    } else {
        "https"
    };
    format!("{scheme}://{}/.well-known/atproto-did", handle.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(s: &str) -> Handle {
        Handle::parse(s).unwrap()
    }

    #[test]
    fn txt_records_follow_the_specification() {
        let h = handle("alice.example.com");
        let did = "did:plc:z72i7hdynmk6r22z27h6tvur";
        let records = |values: &[&str]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
        assert_eq!(
            did_from_txt_records(&h, &records(&["v=spf1 -all", &format!("did={did}")])).unwrap(),
            Some(Did::parse(did).unwrap())
        );
        assert_eq!(
            did_from_txt_records(
                &h,
                &records(&[&format!("did={did}"), &format!("did={did}")])
            )
            .unwrap(),
            Some(Did::parse(did).unwrap())
        );
        assert_eq!(
            did_from_txt_records(&h, &records(&["hello", "DID=x"])).unwrap(),
            None
        );
        assert_eq!(did_from_txt_records(&h, &[]).unwrap(), None);
        assert_eq!(
            did_from_txt_records(
                &h,
                &records(&[&format!("did={did}"), "did=did:web:example.com"])
            ),
            Err(IdentityError::AmbiguousHandle("alice.example.com".into()))
        );
        assert!(matches!(
            did_from_txt_records(&h, &records(&["did=not-a-did"])),
            Err(IdentityError::Syntax(_))
        ));
    }

    #[test]
    fn well_known_answers_are_trimmed_and_checked() {
        assert_eq!(
            did_from_well_known(b"  did:web:example.com\n")
                .unwrap()
                .as_str(),
            "did:web:example.com"
        );
        for bad in [&b""[..], b"did:", b"<html>", b"\xff", b"did:plc:abc def"] {
            assert!(did_from_well_known(bad).is_err(), "{bad:?}");
        }
        let long = format!("did:plc:{}", "a".repeat(5000));
        assert!(did_from_well_known(long.as_bytes()).is_err());
    }

    #[test]
    fn only_test_handles_in_development_mode_use_plain_http() {
        assert_eq!(
            well_known_url(&handle("alice.test"), true),
            "http://alice.test/.well-known/atproto-did"
        );
        assert_eq!(
            well_known_url(&handle("alice.example.com"), true),
            "https://alice.example.com/.well-known/atproto-did"
        );
        assert_eq!(
            well_known_url(&handle("alice.test"), false),
            "https://alice.test/.well-known/atproto-did"
        );
    }

    #[test]
    fn reserved_handles_are_never_resolved() {
        for h in [
            "laptop.local",
            "x.onion",
            "handle.invalid",
            "a.arpa",
            "b.example",
            "c.localhost",
        ] {
            assert!(check_resolvable(&handle(h), true).is_err(), "{h}");
        }
        assert!(check_resolvable(&handle("alice.test"), false).is_err());
        assert!(check_resolvable(&handle("alice.test"), true).is_ok());
        assert!(check_resolvable(&handle("alice.example.com"), false).is_ok());
    }
}
