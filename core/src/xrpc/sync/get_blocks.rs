//! `com.atproto.sync.getBlocks`: chosen blocks of a repository, by CID, as a CAR without roots.
//! `cids` repeats in the query string (`cids=a&cids=b`), so the query is read by hand.

use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::car_stream::car_bytes_response;
use super::repo_access::{self, bad};
use crate::http::{AppState, XrpcError};
use crate::repo::car::encode_car;
use crate::repo::BlockStore;
use crate::xrpc::repo::input;

/// The most CIDs one request may ask for.
pub const MAX_CIDS: usize = 1000;

/// Decodes `%XX` escapes and `+` of one query component.
fn percent_decode(s: &str) -> Result<String, XrpcError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| XrpcError::invalid_request("Malformed query string"))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| XrpcError::invalid_request("Malformed query string"))
}

/// GET handler.
pub async fn handle(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, XrpcError> {
    let mut did = None;
    let mut cids = Vec::new();
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match percent_decode(name)?.as_str() {
            "did" => did = Some(percent_decode(value)?),
            "cids" => {
                if cids.len() == MAX_CIDS {
                    return Err(XrpcError::invalid_request(format!(
                        "At most {MAX_CIDS} cids per request"
                    )));
                }
                cids.push(input::cid("cids", &percent_decode(value)?)?);
            }
            _ => {}
        }
    }
    let did = did.ok_or_else(|| {
        XrpcError::invalid_request("Error: Params must have the property \"did\"")
    })?;
    let did = input::did("did", &did)?;
    repo_access::available(&state, &did).await?;
    let store = state.repos.blocks(did.as_str());
    let mut blocks = Vec::with_capacity(cids.len());
    let mut missing = Vec::new();
    for cid in cids {
        match store.get(&cid).await.map_err(XrpcError::internal)? {
            Some(bytes) => blocks.push((cid, bytes)),
            None => missing.push(cid.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(bad(
            "BlockNotFound",
            format!("Could not find cids: {}", missing.join(", ")),
        ));
    }
    Ok(car_bytes_response(encode_car(&[], blocks)))
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn query_components_are_percent_decoded() {
        assert_eq!(percent_decode("did%3Aplc%3Aab").unwrap(), "did:plc:ab");
        assert_eq!(percent_decode("a+b").unwrap(), "a b");
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%4").is_err());
        assert!(percent_decode("%ff").is_err());
    }
}
