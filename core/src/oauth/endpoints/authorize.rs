//! `/oauth/authorize`: the login and consent page of a pushed request (GET), and its form (POST).
//!
//! GET needs the `client_id` and the `request_uri` a PAR returned. The first browser to open a
//! request binds it to its device cookie; another browser, an expired request or one already
//! approved gets an error page. The page's form carries a CSRF token that must equal the one in a
//! `SameSite=Strict`, `HttpOnly` cookie set with the page, and a POST whose `Origin` is not the
//! issuer's is refused. Approving (the account password, not an app password, of an active
//! account) records the account and a single-use code on the request in one conditional UPDATE
//! and redirects to the client with `code`, `state` and `iss`; denying deletes the request and
//! redirects with `access_denied`.

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::page::{error_page, ConsentPage};
use super::{cookie, form};
use crate::auth::login;
use crate::http::client_address::ClientAddress;
use crate::http::AppState;
use crate::oauth::form::Params;
use crate::oauth::random::{constant_time_eq, random_id};
use crate::oauth::request::{AuthorizationParams, REQUEST_URI_PREFIX};
use crate::oauth::OAuthError;

/// The device cookie.
const DEVICE_COOKIE: &str = "pocketpds-device";
/// The CSRF cookie.
const CSRF_COOKIE: &str = "pocketpds-csrf";
/// How long an opened request stays usable without activity, in seconds.
const INACTIVITY_SECS: i64 = 5 * 60;
/// How long a code lives, in seconds.
pub const CODE_TTL_SECS: i64 = 2 * 60;

fn page_error(status: StatusCode, message: impl Into<String>) -> Response {
    error_page(status, "Authorization failed", &message.into())
}

fn request_id(request_uri: &str) -> Option<&str> {
    request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .filter(|id| crate::oauth::random::is_id::<16>(id, "req-"))
}

/// GET handler: the page.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let oauth = &state.oauth;
    let params = match Params::parse(uri.query().unwrap_or("").as_bytes()) {
        Ok(p) => p,
        Err(e) => return page_error(StatusCode::BAD_REQUEST, e.description()),
    };
    let (client_id, request_uri) =
        match (params.required("client_id"), params.required("request_uri")) {
            (Ok(c), Ok(r)) => (c, r),
            _ => return page_error(
                StatusCode::BAD_REQUEST,
                "client_id and request_uri are required: this server only accepts pushed requests",
            ),
        };
    let Some(id) = request_id(request_uri) else {
        return page_error(StatusCode::BAD_REQUEST, "Invalid request_uri");
    };
    let row = match oauth.store.request(id).await {
        Ok(Some(row)) => row,
        Ok(None) => return page_error(StatusCode::BAD_REQUEST, "Unknown request_uri"),
        Err(e) => return OAuthError::from(e).into_response(),
    };
    if row.client_id != client_id {
        return page_error(
            StatusCode::BAD_REQUEST,
            "This request was initiated for another client",
        );
    }
    let now = oauth.now();
    let (device, new_device) = match cookie(&headers, DEVICE_COOKIE) {
        Some(d) if crate::oauth::random::is_id::<16>(d, "dev-") => (d.to_owned(), false),
        _ => match random_id::<16>("dev-") {
            Ok(d) => (d, true),
            Err(e) => return e.into_response(),
        },
    };
    match oauth
        .store
        .bind_request_device(id, &device, now + INACTIVITY_SECS, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            let why = if row.code.is_some() {
                "This request was already authorized"
            } else if row.expires_at <= now {
                "This request has expired"
            } else {
                "This request was initiated from another device"
            };
            return page_error(StatusCode::BAD_REQUEST, why);
        }
        Err(e) => return OAuthError::from(e).into_response(),
    }
    let parameters = match AuthorizationParams::from_json(&row.parameters) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let client_name = match oauth.clients.resolve(&row.client_id).await {
        Ok(client) => client.client_name.clone(),
        Err(e) => return page_error(StatusCode::BAD_REQUEST, e.description()),
    };
    let csrf = match random_id::<16>("csrf-") {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let scopes: Vec<String> = parameters.scope.split(' ').map(str::to_owned).collect();
    let mut response = ConsentPage {
        client_id: &row.client_id,
        client_name: client_name.as_deref(),
        redirect_uri: &parameters.redirect_uri,
        scopes: &scopes,
        request_uri,
        csrf: &csrf,
        login_hint: parameters.login_hint.as_deref(),
        error: None,
    }
    .render(StatusCode::OK);
    let secure = if oauth.issuer.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let mut cookies = vec![format!(
        "{CSRF_COOKIE}={csrf}; Path=/oauth/authorize; HttpOnly; SameSite=Strict{secure}"
    )];
    if new_device {
        cookies.push(format!(
            "{DEVICE_COOKIE}={device}; Path=/oauth; HttpOnly; SameSite=Lax; Max-Age=31536000{secure}"
        ));
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// POST handler: the form.
pub async fn submit(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match decide(&state, client, &headers, &body).await {
        Ok(response) => response,
        Err(e) => page_error(e.status(), e.description()),
    }
}

async fn decide(
    state: &AppState,
    client: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    let oauth = &state.oauth;
    let params = form(headers, body)?;
    let forbidden = |m: &str| Ok(page_error(StatusCode::FORBIDDEN, m));
    let csrf = params.required("csrf")?;
    match cookie(headers, CSRF_COOKIE) {
        Some(c) if constant_time_eq(c.as_bytes(), csrf.as_bytes()) => {}
        _ => return forbidden("Invalid CSRF token: reload the page and try again"),
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let expected = url::Url::parse(&oauth.issuer)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        if origin.to_str().ok() != Some(expected.as_str()) {
            return forbidden("This form was posted from another site");
        }
    }
    let request_uri = params.required("request_uri")?;
    let id = request_id(request_uri)
        .ok_or_else(|| OAuthError::InvalidRequest("Invalid request_uri".into()))?;
    let row = oauth
        .store
        .request(id)
        .await?
        .ok_or_else(|| OAuthError::InvalidRequest("Unknown request_uri".into()))?;
    let now = oauth.now();
    let device = cookie(headers, DEVICE_COOKIE);
    if row.device_id.is_none() || row.device_id.as_deref() != device {
        return forbidden("This request was initiated from another device");
    }
    if row.code.is_some() || row.did.is_some() {
        return Err(OAuthError::AccessDenied(
            "This request was already authorized".into(),
        ));
    }
    if row.expires_at <= now {
        return Err(OAuthError::AccessDenied("This request has expired".into()));
    }
    let parameters = AuthorizationParams::from_json(&row.parameters)?;
    match params.required("action")? {
        "deny" => {
            oauth.store.delete_request(id).await?;
            Ok(redirect(&parameters.redirect_with(
                &oauth.issuer,
                &[
                    ("error", "access_denied"),
                    ("error_description", "The user denied the request"),
                ],
            )))
        }
        "allow" => {
            let identifier = params.get("identifier")?.unwrap_or("").trim();
            let password = params.get("password")?.unwrap_or("");
            let limits = crate::auth::LoginLimits::from_config(&state.config);
            let mut status = StatusCode::UNAUTHORIZED;
            let failure = match login(&oauth.accounts, &limits, client, identifier, password).await
            {
                Ok(l) if l.app_password.is_some() => {
                    Some("Use your account password here, not an app password")
                }
                Ok(l) if !l.account.is_active() => Some("This account is not active"),
                Ok(l) => {
                    let code = random_id::<32>("cod-")?;
                    let approved = oauth
                        .store
                        .approve_request(
                            id,
                            device.unwrap_or_default(),
                            &l.account.did,
                            &code,
                            now + CODE_TTL_SECS,
                            now,
                        )
                        .await?;
                    if !approved {
                        return Err(OAuthError::AccessDenied(
                            "This request was already authorized or has expired".into(),
                        ));
                    }
                    return Ok(redirect(
                        &parameters.redirect_with(&oauth.issuer, &[("code", &code)]),
                    ));
                }
                Err(crate::auth::AuthError::Storage(e)) => return Err(e.into()),
                Err(crate::auth::AuthError::Internal(e)) => return Err(OAuthError::Internal(e)),
                Err(crate::auth::AuthError::RateLimited(_)) => {
                    status = StatusCode::TOO_MANY_REQUESTS;
                    Some("Too many failed sign-ins: wait a few minutes, then try again")
                }
                Err(_) => Some("Invalid identifier or password"),
            };
            let client_name = oauth
                .clients
                .resolve(&row.client_id)
                .await
                .ok()
                .and_then(|c| c.client_name.clone());
            let scopes: Vec<String> = parameters.scope.split(' ').map(str::to_owned).collect();
            Ok(ConsentPage {
                client_id: &row.client_id,
                client_name: client_name.as_deref(),
                redirect_uri: &parameters.redirect_uri,
                scopes: &scopes,
                request_uri,
                csrf,
                login_hint: Some(identifier),
                error: failure,
            }
            .render(status))
        }
        _ => Err(OAuthError::InvalidRequest("Unknown action".into())),
    }
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
