//! `com.atproto.admin.updateSubjectStatus`: take an account, a record or a blob down, or restore
//! it. A taken-down account's repository, records and blobs are refused on every read path and the
//! firehose says `#account` `takendown`; a taken-down record or blob is refused where it is read.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::AdminAuth;
use crate::http::json_body::JsonBody;
use crate::http::{AppState, XrpcError};
use crate::storage::AccountStore;
use crate::syntax::AtUri;

/// What a status is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An account (`com.atproto.admin.defs#repoRef`).
    Repo {
        /// Its DID.
        did: String,
    },
    /// A record (`com.atproto.repo.strongRef`).
    Record {
        /// Its AT-URI, with a DID authority.
        uri: String,
        /// Its DID.
        did: String,
        /// The CID given (echoed back).
        cid: Option<String>,
    },
    /// A blob (`com.atproto.admin.defs#repoBlobRef`).
    Blob {
        /// The account's DID.
        did: String,
        /// The blob's CID.
        cid: String,
    },
}

impl Subject {
    /// A record subject from its AT-URI (which must name the repository by DID).
    pub fn record(uri: &str, cid: Option<String>) -> Result<Subject, XrpcError> {
        let parsed = AtUri::parse(uri)
            .map_err(|e| XrpcError::invalid_request(format!("Invalid uri: {e}")))?;
        let did = parsed.authority().to_string();
        if !did.starts_with("did:") {
            return Err(XrpcError::invalid_request(
                "The uri must name its repo by DID",
            ));
        }
        Ok(Subject::Record {
            uri: parsed.as_str().to_owned(),
            did,
            cid,
        })
    }

    fn from_json(value: &Value) -> Result<Subject, XrpcError> {
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        match value.get("$type").and_then(Value::as_str) {
            Some("com.atproto.admin.defs#repoRef") => Ok(Subject::Repo {
                did: text("did").ok_or_else(|| XrpcError::invalid_request("did is required"))?,
            }),
            Some("com.atproto.repo.strongRef") => Subject::record(
                &text("uri").ok_or_else(|| XrpcError::invalid_request("uri is required"))?,
                text("cid"),
            ),
            Some("com.atproto.admin.defs#repoBlobRef") => Ok(Subject::Blob {
                did: text("did").ok_or_else(|| XrpcError::invalid_request("did is required"))?,
                cid: text("cid").ok_or_else(|| XrpcError::invalid_request("cid is required"))?,
            }),
            _ => Err(XrpcError::invalid_request("Invalid subject")),
        }
    }

    /// The subject as the Lexicon writes it.
    pub fn to_json(&self) -> Value {
        match self {
            Subject::Repo { did } => json!({"$type": "com.atproto.admin.defs#repoRef", "did": did}),
            Subject::Record { uri, cid, .. } => {
                json!({"$type": "com.atproto.repo.strongRef", "uri": uri, "cid": cid.clone().unwrap_or_default()})
            }
            Subject::Blob { did, cid } => {
                json!({"$type": "com.atproto.admin.defs#repoBlobRef", "did": did, "cid": cid})
            }
        }
    }

    /// The takedown reference, if taken down, and for an account whether it is deactivated.
    pub async fn status(
        &self,
        state: &AppState,
    ) -> Result<(Option<String>, Option<bool>), XrpcError> {
        match self {
            Subject::Repo { did } => {
                let account = crate::admin::require_account(state, did).await?;
                Ok((account.takedown_ref, Some(account.deactivated_at.is_some())))
            }
            Subject::Record { uri, did, .. } => {
                crate::admin::require_account(state, did).await?;
                Ok((state.accounts.subject_takedown(uri).await?, None))
            }
            Subject::Blob { did, cid } => {
                crate::admin::require_account(state, did).await?;
                let key = AccountStore::blob_subject(did, cid);
                Ok((state.accounts.subject_takedown(&key).await?, None))
            }
        }
    }
}

/// A status change.
#[derive(Deserialize)]
pub struct StatusAttr {
    applied: bool,
    #[serde(rename = "ref", default)]
    reference: Option<String>,
}

/// The input (`deactivated` is not changed by the operator here).
#[derive(Deserialize)]
pub struct Input {
    subject: Value,
    #[serde(default)]
    takedown: Option<StatusAttr>,
}

/// POST handler.
pub async fn handle(
    State(state): State<AppState>,
    _admin: AdminAuth,
    JsonBody(input): JsonBody<Input>,
) -> Result<Json<Value>, XrpcError> {
    let subject = Subject::from_json(&input.subject)?;
    if let Some(takedown) = &input.takedown {
        let reference = takedown.applied.then(|| {
            takedown
                .reference
                .clone()
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "takedown".to_owned())
        });
        match &subject {
            Subject::Repo { did } => {
                crate::admin::set_account_takedown(&state, did, reference.as_deref()).await?
            }
            Subject::Record { uri, did, .. } => {
                crate::admin::set_subject_takedown(&state, uri, did, reference.as_deref()).await?
            }
            Subject::Blob { did, cid } => {
                let key = AccountStore::blob_subject(did, cid);
                crate::admin::set_subject_takedown(&state, &key, did, reference.as_deref()).await?
            }
        }
    }
    let (takedown, _) = subject.status(&state).await?;
    Ok(Json(json!({
        "subject": subject.to_json(),
        "takedown": match takedown {
            Some(reference) => json!({ "applied": true, "ref": reference }),
            None => json!({ "applied": false }),
        },
    })))
}
