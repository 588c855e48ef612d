//! A client of a PLC directory (`PDS_DID_PLC_URL`, `https://plc.directory` in production): submit
//! operations, resolve DID documents, read operation logs.
//!
//! Every answer is bounded in size and parsed strictly; documents must be about the DID asked for.
//! The directory is trusted only for availability: callers that must not trust it verify the log
//! with [`super::verify_operation_log`].

use std::sync::Arc;

use reqwest::Url;
use serde_json::Value;

use super::did_doc::{DidDocument, MAX_DID_DOCUMENT_BYTES};
use super::error::{excerpt, IdentityError};
use super::http::{HttpFetch, HttpResponse};
use super::plc::{check_plc_did, SignedOperation, MAX_OPERATION_BYTES};
use crate::repo::cid::{cid_from_str, Cid};
use crate::syntax::Did;

/// The largest operation log accepted, in bytes of JSON.
pub const MAX_LOG_BYTES: usize = 2 * 1024 * 1024;
/// The largest answer to an operation submission or a single-operation request.
const MAX_SMALL_BYTES: usize = 4 * MAX_OPERATION_BYTES;

/// One entry of a DID's audit log (`/log/audit`): an operation with the directory's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlcAuditEntry {
    /// The operation.
    pub operation: SignedOperation,
    /// Its CID, as the directory states it (checked against the operation).
    pub cid: Cid,
    /// Whether the directory considers it overridden by a recovery operation.
    pub nullified: bool,
    /// When the directory accepted it (RFC 3339 text).
    pub created_at: String,
}

/// A PLC directory at a fixed base URL.
#[derive(Clone)]
pub struct PlcClient {
    base: Url,
    http: Arc<dyn HttpFetch>,
}

impl std::fmt::Debug for PlcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlcClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl PlcClient {
    /// A client of the directory at `base_url` (http or https, a host, optionally a path prefix; no
    /// credentials, query or fragment). Whether plain http may be used is the `http` client's rule.
    pub fn new(base_url: &str, http: Arc<dyn HttpFetch>) -> Result<PlcClient, IdentityError> {
        let bad = |reason| IdentityError::InvalidUrl {
            url: excerpt(base_url),
            reason,
        };
        let mut base = Url::parse(base_url).map_err(|_| bad("not an absolute URL"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad("not http or https"));
        }
        if base.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(bad("holds credentials"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(bad("has a query or fragment"));
        }
        // Paths are joined below as `<base>/<did>...`: keep the base without a trailing slash.
        let path = base.path().trim_end_matches('/').to_owned();
        base.set_path(&path);
        Ok(PlcClient { base, http })
    }

    /// The directory's base URL.
    pub fn url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// `<base>/<did><suffix>`; `did` must be a did:plc, whose characters need no escaping.
    fn url_for(&self, did: &Did, suffix: &str) -> Result<Url, IdentityError> {
        check_plc_did(did)?;
        let text = format!("{}/{}{suffix}", self.url(), did.as_str());
        Url::parse(&text).map_err(|_| IdentityError::InvalidUrl {
            url: excerpt(&text),
            reason: "not an absolute URL",
        })
    }

    /// Submits `op` for `did` (`POST /{did}`). A refusal by the directory (HTTP 4xx) is
    /// [`IdentityError::Rejected`] with the directory's message.
    pub async fn submit(&self, did: &Did, op: &SignedOperation) -> Result<(), IdentityError> {
        let url = self.url_for(did, "")?;
        let body = serde_json::to_vec(&op.to_json())
            .map_err(|e| IdentityError::MalformedOperation(e.to_string()))?;
        let response = self.http.post_json(&url, body, MAX_SMALL_BYTES).await?;
        if response.is_success() {
            return Ok(());
        }
        if (400..500).contains(&response.status) {
            return Err(IdentityError::Rejected {
                status: response.status,
                message: error_message(&response),
            });
        }
        Err(status_error(&url, &response))
    }

    /// The current DID document of `did` (`GET /{did}`).
    pub async fn resolve(&self, did: &Did) -> Result<DidDocument, IdentityError> {
        let url = self.url_for(did, "")?;
        let response = self.get(did, &url, MAX_DID_DOCUMENT_BYTES).await?;
        DidDocument::from_slice_for(did, &response.body)
    }

    /// The operations of `did`'s current history, oldest first (`GET /{did}/log`).
    pub async fn op_log(&self, did: &Did) -> Result<Vec<SignedOperation>, IdentityError> {
        let url = self.url_for(did, "/log")?;
        let response = self.get(did, &url, MAX_LOG_BYTES).await?;
        let items = json_array(&url, &response.body)?;
        items.iter().map(SignedOperation::from_json).collect()
    }

    /// Every operation ever accepted for `did`, nullified ones included, with the directory's
    /// metadata (`GET /{did}/log/audit`). Each stated CID is checked against its operation.
    pub async fn audit_log(&self, did: &Did) -> Result<Vec<PlcAuditEntry>, IdentityError> {
        let url = self.url_for(did, "/log/audit")?;
        let response = self.get(did, &url, MAX_LOG_BYTES).await?;
        let items = json_array(&url, &response.body)?;
        items.iter().map(|item| audit_entry(did, item)).collect()
    }

    /// The last operation of `did`'s current history (`GET /{did}/log/last`): the `prev` of the
    /// next update.
    pub async fn last_op(&self, did: &Did) -> Result<SignedOperation, IdentityError> {
        let url = self.url_for(did, "/log/last")?;
        let response = self.get(did, &url, MAX_SMALL_BYTES).await?;
        SignedOperation::from_slice(&response.body)
    }

    /// A GET whose 404 means "no such DID" and whose other failures are errors.
    async fn get(
        &self,
        did: &Did,
        url: &Url,
        max_bytes: usize,
    ) -> Result<HttpResponse, IdentityError> {
        let response = self.http.get(url, "application/json", max_bytes).await?;
        match response.status {
            200..=299 => Ok(response),
            404 => Err(IdentityError::NotFound(did.to_string())),
            410 => Err(IdentityError::Tombstoned),
            _ => Err(status_error(url, &response)),
        }
    }
}

fn status_error(url: &Url, response: &HttpResponse) -> IdentityError {
    IdentityError::HttpStatus {
        url: excerpt(url.as_str()),
        status: response.status,
        message: error_message(response),
    }
}

/// The `message` of a directory's JSON error, else the start of the body.
fn error_message(response: &HttpResponse) -> String {
    serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|value| value.get("message")?.as_str().map(excerpt))
        .unwrap_or_else(|| response.body_excerpt())
}

fn json_array(url: &Url, body: &[u8]) -> Result<Vec<Value>, IdentityError> {
    match serde_json::from_slice(body) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(_) => Err(IdentityError::InvalidJson {
            url: excerpt(url.as_str()),
            reason: "not an array".into(),
        }),
        Err(e) => Err(IdentityError::InvalidJson {
            url: excerpt(url.as_str()),
            reason: e.to_string(),
        }),
    }
}

fn audit_entry(did: &Did, item: &Value) -> Result<PlcAuditEntry, IdentityError> {
    let malformed =
        |reason: &str| IdentityError::MalformedOperation(format!("audit entry: {reason}"));
    let obj = item.as_object().ok_or_else(|| malformed("not an object"))?;
    if obj.get("did").and_then(Value::as_str) != Some(did.as_str()) {
        return Err(malformed("for another DID"));
    }
    let operation = SignedOperation::from_json(obj.get("operation").unwrap_or(&Value::Null))?;
    let cid = obj
        .get("cid")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("no cid"))
        .and_then(|text| cid_from_str(text).map_err(|e| malformed(&e.to_string())))?;
    if operation.cid()? != cid {
        return Err(malformed("the cid is not the operation's"));
    }
    let nullified = obj
        .get("nullified")
        .and_then(Value::as_bool)
        .ok_or_else(|| malformed("no nullified flag"))?;
    let created_at = obj
        .get("createdAt")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("no createdAt"))?;
    Ok(PlcAuditEntry {
        operation,
        cid,
        nullified,
        created_at: excerpt(created_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::http::tests::{ok, serve};
    use crate::identity::http::{HttpClient, HttpConfig};

    const DID: &str = "did:plc:yk4dd2qkboz2yv6tpubpc6co";

    fn client(base: &str) -> PlcClient {
        let http = HttpClient::new(&HttpConfig {
            allow_plain_http: true,
            ..HttpConfig::default()
        })
        .unwrap();
        PlcClient::new(base, Arc::new(http)).unwrap()
    }

    fn response(status: &str, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn base_urls_are_checked_and_normalised() {
        let http: Arc<dyn HttpFetch> = Arc::new(HttpClient::new(&HttpConfig::default()).unwrap());
        let plc = PlcClient::new("https://plc.directory/", http.clone()).unwrap();
        assert_eq!(plc.url(), "https://plc.directory");
        let did = Did::parse(DID).unwrap();
        assert_eq!(
            plc.url_for(&did, "/log").unwrap().as_str(),
            format!("https://plc.directory/{DID}/log")
        );
        let prefixed = PlcClient::new("https://example.com/plc/", http.clone()).unwrap();
        assert_eq!(
            prefixed.url_for(&did, "").unwrap().as_str(),
            format!("https://example.com/plc/{DID}")
        );
        for bad in [
            "plc.directory",
            "ftp://plc.directory",
            "https://u:p@plc.directory",
            "https://plc.directory/?x=1",
            "",
        ] {
            assert!(PlcClient::new(bad, http.clone()).is_err(), "{bad}");
        }
        // Only did:plc identifiers go into the path.
        for did in ["did:web:example.com", "did:plc:../../admin"] {
            if let Ok(did) = Did::parse(did) {
                assert!(matches!(
                    plc.url_for(&did, ""),
                    Err(IdentityError::InvalidPlcDid(_))
                ));
            }
        }
    }

    #[tokio::test]
    async fn directory_answers_are_mapped_to_errors() {
        let (base, server) = serve(vec![
            response("404 Not Found", r#"{"message":"DID not registered"}"#),
            response("410 Gone", r#"{"message":"DID not available"}"#),
            response(
                "400 Bad Request",
                r#"{"message":"Invalid signature on op"}"#,
            ),
            response("500 Internal Server Error", "oops"),
            ok(
                "application/json",
                br#"{"id":"did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"}"#,
            ),
            ok("application/json", b"{\"not\": \"a list\"}"),
            ok("application/json", b"[{\"type\": \"plc_operation\"}]"),
        ]);
        let plc = client(&base);
        let did = Did::parse(DID).unwrap();
        assert_eq!(
            plc.resolve(&did).await.unwrap_err(),
            IdentityError::NotFound(DID.into())
        );
        assert_eq!(
            plc.resolve(&did).await.unwrap_err(),
            IdentityError::Tombstoned
        );
        let op = serde_json::from_value::<SignedOperation>(serde_json::json!({
            "type": "plc_tombstone",
            "prev": "bafyreigp6shzy6dlcxuowwoxz7u5nemdrkad2my5zwzpwilcnhih7bw6zm",
            "sig": "9NuYV7AqwHVTc0YuWzNV3CJafsSZWH7qCxHRUIP2xWlB-YexXC1OaYAnUayiCXLVzRQ8WBXIqF-SvZdNalwcjA"
        }))
        .unwrap();
        assert_eq!(
            plc.submit(&did, &op).await.unwrap_err(),
            IdentityError::Rejected {
                status: 400,
                message: "Invalid signature on op".into()
            }
        );
        assert!(matches!(
            plc.last_op(&did).await.unwrap_err(),
            IdentityError::HttpStatus { status: 500, .. }
        ));
        assert!(matches!(
            plc.resolve(&did).await.unwrap_err(),
            IdentityError::DocumentDidMismatch { .. }
        ));
        assert!(matches!(
            plc.op_log(&did).await.unwrap_err(),
            IdentityError::InvalidJson { .. }
        ));
        assert!(matches!(
            plc.op_log(&did).await.unwrap_err(),
            IdentityError::MalformedOperation(_)
        ));
        let seen = server.join().unwrap();
        assert_eq!(seen[2], format!("POST /{DID} HTTP/1.1"));
        assert_eq!(seen[3], format!("GET /{DID}/log/last HTTP/1.1"));
        assert_eq!(seen[5], format!("GET /{DID}/log HTTP/1.1"));
    }
}
