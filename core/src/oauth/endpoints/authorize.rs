//! `/oauth/authorize`: the authorization page of a pushed request (GET), one step at a time, and
//! its forms (POST).
//!
//! GET needs the `client_id` and the `request_uri` a PAR returned. The first browser to open a
//! request binds it to its device ([`crate::oauth::device`]); another browser, an expired request
//! or one already approved gets an error page. Which step shows follows the request's `prompt` and
//! what the browser remembers:
//!
//! - `none`: no page at all — a code at once when exactly one account (the `login_hint`'s, or the
//!   only one) stays signed in on this browser and has consented to this client and scope before;
//!   else `login_required`, `account_selection_required` or `consent_required` to the redirect URI.
//! - `login`: the sign-in form, even if the browser stays signed in. `create`: the sign-up form.
//!   `select_account`: the account chooser (the sign-in form when none is remembered).
//! - no prompt, or `consent`: the consent step for the remembered account (the `login_hint`'s, or
//!   the only one), the chooser when several are remembered, else the sign-in form. Without
//!   `prompt=consent`, consent given before for every requested scope value approves at once.
//!
//! A `view` query parameter (`signin`, `signup`, `choose`) is how the pages' links move between
//! steps without JavaScript. Each form carries a CSRF token that must equal the one in a
//! `SameSite=Strict`, `HttpOnly` cookie set with the page; a POST whose `Origin` is not the
//! issuer's is refused, and so is one whose device cookie is not the request's device. Signing in
//! (the account password, not an app password, of an active account) or choosing a remembered
//! account records the account on the request and returns to GET; "stay signed in" remembers it on
//! the device and rotates the device secret. Signing up creates the account exactly as
//! `com.atproto.server.createAccount` does (its handle-domain and invite-code rules, the same
//! [`create_with_identity`]), then signs it in the same way, so GET shows the consent step next;
//! a refused sign-up shows the form again with the reason and creates nothing. Allowing records the consent and a single-use code on
//! the request in one conditional UPDATE and redirects to the client with `code`, `state` and
//! `iss`; denying deletes the request and redirects with `access_denied`.

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::page::{
    error_page, AccountView, ChooserPage, ClientView, ConsentPage, PageContext, ScopeLine,
    SignInPage, SignUpPage,
};
use super::{cookie, form};
use crate::auth::login;
use crate::http::client_address::ClientAddress;
use crate::http::{AppState, XrpcError};
use crate::oauth::device::{
    self, ClientInfo, DeviceCookie, Recognised, ANONYMOUS_DEVICE_SECS, DEVICE_COOKIE,
    REMEMBER_SECS, ROTATE_AFTER_SECS,
};
use crate::oauth::form::Params;
use crate::oauth::random::{constant_time_eq, random_id};
use crate::oauth::request::{AuthorizationParams, Prompt, REQUEST_URI_PREFIX};
use crate::oauth::{OAuthError, OAuthServer};
use crate::storage::oauth_store::OAuthRequestRow;
use crate::xrpc::server::create_account::{create_with_identity, Input as CreateAccountInput};

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

/// The browser of a request: its device and the cookie to send back, if it changed.
struct Browser {
    cookie: DeviceCookie,
    changed: bool,
}

/// Recognises the browser's device; a browser the server does not know gets a new device when
/// `may_create` (the page, which also rotates a secret older than [`ROTATE_AFTER_SECS`]), else
/// `None` (a form).
async fn browser(
    oauth: &OAuthServer,
    headers: &HeaderMap,
    client: &ClientInfo,
    now: i64,
    may_create: bool,
) -> Result<Option<Browser>, OAuthError> {
    let presented = cookie(headers, DEVICE_COOKIE).and_then(DeviceCookie::parse);
    match device::recognise(&oauth.store, presented.as_ref(), client, now).await? {
        Recognised::Known {
            device: row,
            current,
        } => {
            let cookie = presented.ok_or_else(|| OAuthError::Internal("no cookie".into()))?;
            let remembered = !oauth.store.device_accounts(&row.id, now).await?.is_empty();
            let keep = now
                + if remembered {
                    REMEMBER_SECS
                } else {
                    ANONYMOUS_DEVICE_SECS
                };
            if may_create && current && now - row.rotated_at >= ROTATE_AFTER_SECS {
                if let Some(new) = device::rotate(&oauth.store, &cookie, client, now, keep).await? {
                    return Ok(Some(Browser {
                        cookie: new,
                        changed: true,
                    }));
                }
            }
            oauth
                .store
                .touch_device(&row.id, now, client.ip.as_deref(), keep)
                .await?;
            Ok(Some(Browser {
                cookie,
                changed: false,
            }))
        }
        Recognised::Unknown | Recognised::Replayed if may_create => Ok(Some(Browser {
            cookie: device::create(&oauth.store, client, now).await?,
            changed: true,
        })),
        Recognised::Unknown | Recognised::Replayed => Ok(None),
    }
}

/// The active accounts remembered on a device, most recently used first.
async fn remembered(
    oauth: &OAuthServer,
    device_id: &str,
    now: i64,
) -> Result<Vec<AccountView>, OAuthError> {
    let mut out = Vec::new();
    for row in oauth.store.device_accounts(device_id, now).await? {
        if let Some(account) = oauth.accounts.account_by_did(&row.did).await? {
            if account.is_active() {
                out.push(AccountView {
                    did: account.did.clone(),
                    handle: account.handle.clone(),
                });
            }
        }
    }
    Ok(out)
}

async fn account_view(oauth: &OAuthServer, did: &str) -> Result<Option<AccountView>, OAuthError> {
    Ok(oauth
        .accounts
        .account_by_did(did)
        .await?
        .filter(|a| a.is_active())
        .map(|a| AccountView {
            did: a.did.clone(),
            handle: a.handle.clone(),
        }))
}

/// Whether `did` consented before to every value `parameters` asks for, for `client_id`.
async fn consent_covers(
    oauth: &OAuthServer,
    did: &str,
    client_id: &str,
    parameters: &AuthorizationParams,
) -> Result<bool, OAuthError> {
    let given = oauth.store.consented_scopes(did, client_id).await?;
    Ok(parameters
        .consent_values()
        .iter()
        .all(|s| given.iter().any(|g| g == s)))
}

/// What the page adds to every response: the CSRF cookie and, when it changed, the device cookie.
struct Cookies {
    list: Vec<String>,
}

impl Cookies {
    fn new(oauth: &OAuthServer, csrf: Option<&str>, browser: &Browser) -> Cookies {
        let secure = oauth.issuer.starts_with("https://");
        let mut list = Vec::new();
        if let Some(csrf) = csrf {
            list.push(format!(
                "{CSRF_COOKIE}={csrf}; Path=/oauth/authorize; HttpOnly; SameSite=Strict{}",
                if secure { "; Secure" } else { "" }
            ));
        }
        if browser.changed {
            list.push(browser.cookie.set_cookie(secure));
        }
        Cookies { list }
    }

    fn apply(self, mut response: Response) -> Response {
        for c in self.list {
            if let Ok(v) = HeaderValue::from_str(&c) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        response
    }
}

/// GET handler: the page.
pub async fn show(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    match render(&state, client, &headers, uri.query().unwrap_or("")).await {
        Ok(response) => response,
        Err(e) => page_error(e.status(), e.description()),
    }
}

/// Which step a GET shows.
enum Step {
    SignIn,
    SignUp,
    Chooser,
    Consent(AccountView),
}

async fn render(
    state: &AppState,
    client: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    query: &str,
) -> Result<Response, OAuthError> {
    let oauth = &state.oauth;
    let params = Params::parse(query.as_bytes())?;
    let (client_id, request_uri) =
        match (params.required("client_id"), params.required("request_uri")) {
            (Ok(c), Ok(r)) => (c, r),
            _ => return Err(OAuthError::InvalidRequest(
                "client_id and request_uri are required: this server only accepts pushed requests"
                    .into(),
            )),
        };
    let id = request_id(request_uri)
        .ok_or_else(|| OAuthError::InvalidRequest("Invalid request_uri".into()))?;
    let row = oauth
        .store
        .request(id)
        .await?
        .ok_or_else(|| OAuthError::InvalidRequest("Unknown request_uri".into()))?;
    if row.client_id != client_id {
        return Err(OAuthError::InvalidRequest(
            "This request was initiated for another client".into(),
        ));
    }
    let now = oauth.now();
    let info = ClientInfo::new(client, headers);
    let browser = browser(oauth, headers, &info, now, true)
        .await?
        .ok_or_else(|| OAuthError::Internal("no device".into()))?;
    if !oauth
        .store
        .bind_request_device(id, &browser.cookie.id, now + INACTIVITY_SECS, now)
        .await?
    {
        let why = if row.code.is_some() {
            "This request was already authorized"
        } else if row.expires_at <= now {
            "This request has expired"
        } else {
            "This request was initiated from another device"
        };
        return Ok(
            Cookies::new(oauth, None, &browser).apply(page_error(StatusCode::BAD_REQUEST, why))
        );
    }
    let parameters = AuthorizationParams::from_json(&row.parameters)?;
    let client = oauth.clients.resolve(&row.client_id).await?;
    let accounts = remembered(oauth, &browser.cookie.id, now).await?;
    let hinted = parameters.login_hint.as_deref().and_then(|hint| {
        accounts
            .iter()
            .find(|a| a.did == hint || a.handle == hint)
            .cloned()
    });
    let remembered_one = match (&parameters.login_hint, accounts.as_slice()) {
        (Some(_), _) => hinted.clone(),
        (None, [only]) => Some(only.clone()),
        _ => None,
    };

    if parameters.prompt == Some(Prompt::None) {
        let answer = match &remembered_one {
            None if accounts.len() > 1 && parameters.login_hint.is_none() => Err((
                "account_selection_required",
                "Several accounts are signed in on this device",
            )),
            None => Err(("login_required", "No account is signed in on this device")),
            Some(account) => {
                if consent_covers(oauth, &account.did, &row.client_id, &parameters).await? {
                    Ok(account.did.clone())
                } else {
                    Err((
                        "consent_required",
                        "The account has not allowed this client this access",
                    ))
                }
            }
        };
        let response = match answer {
            Ok(did) => approve(oauth, &row, &browser.cookie.id, &did, &parameters, now).await?,
            Err((error, description)) => {
                oauth.store.delete_request(id).await?;
                redirect(&parameters.redirect_with(
                    &oauth.issuer,
                    &[("error", error), ("error_description", description)],
                ))
            }
        };
        return Ok(Cookies::new(oauth, None, &browser).apply(response));
    }

    let signed_in = match &row.login_did {
        Some(did) => account_view(oauth, did).await?,
        None => None,
    };
    let step = match params.get("view")? {
        Some("signin") => Step::SignIn,
        Some("signup") => Step::SignUp,
        Some("choose") if !accounts.is_empty() => Step::Chooser,
        _ => match (signed_in, parameters.prompt) {
            (Some(account), _) => Step::Consent(account),
            (None, Some(Prompt::Login)) => Step::SignIn,
            (None, Some(Prompt::Create)) => Step::SignUp,
            (None, Some(Prompt::SelectAccount)) if !accounts.is_empty() => Step::Chooser,
            (None, Some(Prompt::SelectAccount)) => Step::SignIn,
            (None, _) => match remembered_one {
                Some(account) => {
                    oauth
                        .store
                        .set_request_login(id, &browser.cookie.id, &account.did, now)
                        .await?;
                    Step::Consent(account)
                }
                None if accounts.len() > 1 && parameters.login_hint.is_none() => Step::Chooser,
                None => Step::SignIn,
            },
        },
    };

    if let Step::Consent(account) = &step {
        if parameters.prompt != Some(Prompt::Consent)
            && consent_covers(oauth, &account.did, &row.client_id, &parameters).await?
        {
            let response = approve(
                oauth,
                &row,
                &browser.cookie.id,
                &account.did,
                &parameters,
                now,
            )
            .await?;
            return Ok(Cookies::new(oauth, None, &browser).apply(response));
        }
    }

    let csrf = random_id::<16>("csrf-")?;
    let view = ClientView::of(&client, oauth.dev_mode);
    let ctx = PageContext {
        client: &view,
        request_uri,
        csrf: &csrf,
        redirect_uri: &parameters.redirect_uri,
        dev_mode: oauth.dev_mode,
    };
    let page = match step {
        Step::SignIn => SignInPage {
            ctx,
            login_hint: parameters.login_hint.as_deref(),
            error: None,
            has_remembered: !accounts.is_empty(),
        }
        .render(StatusCode::OK),
        Step::SignUp => SignUpPage {
            ctx,
            domains: &state.config.service_handle_domains,
            invite_required: state.config.invite_required,
            values: ("", "", ""),
            error: None,
        }
        .render(StatusCode::OK),
        Step::Chooser => ChooserPage {
            ctx,
            accounts: &accounts,
        }
        .render(StatusCode::OK),
        Step::Consent(account) => {
            let switch_href = ctx.view_href(if accounts.len() > 1 {
                "choose"
            } else {
                "signin"
            });
            let languages = headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok());
            let scopes = scope_lines(&parameters, languages);
            ConsentPage {
                ctx,
                account: &account,
                scopes: &scopes,
                switch_href,
                error: None,
            }
            .render(StatusCode::OK)
        }
    };
    Ok(Cookies::new(oauth, Some(&csrf), &browser).apply(page))
}

/// The consent page's lines: a permission set by its title and detail (in the browser's language
/// when the set has it), every other value in words.
fn scope_lines(parameters: &AuthorizationParams, languages: Option<&str>) -> Vec<ScopeLine> {
    parameters
        .consent_values()
        .iter()
        .map(|value| {
            match parameters
                .permission_sets
                .iter()
                .find(|s| s.scope == *value)
            {
                Some(set) => {
                    let (title, detail) = set.localized(languages);
                    ScopeLine {
                        scope: value.clone(),
                        title: title.unwrap_or(value).to_owned(),
                        detail: Some(
                            detail.map(str::to_owned).unwrap_or_else(|| {
                                format!("Grants {}", set.permissions.join(", "))
                            }),
                        ),
                    }
                }
                None => ScopeLine::plain(value),
            }
        })
        .collect()
}

/// Approves a request for `did`: records a code and redirects to the client with it.
async fn approve(
    oauth: &OAuthServer,
    row: &OAuthRequestRow,
    device_id: &str,
    did: &str,
    parameters: &AuthorizationParams,
    now: i64,
) -> Result<Response, OAuthError> {
    let code = random_id::<32>("cod-")?;
    if !oauth
        .store
        .approve_request(&row.id, device_id, did, &code, now + CODE_TTL_SECS, now)
        .await?
    {
        return Err(OAuthError::AccessDenied(
            "This request was already authorized or has expired".into(),
        ));
    }
    oauth
        .store
        .touch_device_account(device_id, did, now)
        .await?;
    Ok(redirect(
        &parameters.redirect_with(&oauth.issuer, &[("code", &code)]),
    ))
}

/// POST handler: the forms.
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
    let info = ClientInfo::new(client, headers);
    let Some(browser) = browser(oauth, headers, &info, now, false).await? else {
        return forbidden("This request was initiated from another device");
    };
    let device_id = browser.cookie.id.clone();
    if row.device_id.as_deref() != Some(device_id.as_str()) {
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
    let back_to_page = || {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &row.client_id)
            .append_pair("request_uri", request_uri)
            .finish();
        redirect(&format!("/oauth/authorize?{query}"))
    };
    let response = match params.required("action")? {
        "deny" => {
            oauth.store.delete_request(id).await?;
            redirect(&parameters.redirect_with(
                &oauth.issuer,
                &[
                    ("error", "access_denied"),
                    ("error_description", "The user denied the request"),
                ],
            ))
        }
        "signin" => {
            let identifier = params.get("identifier")?.unwrap_or("").trim();
            let password = params.get("password")?.unwrap_or("");
            let limits = crate::auth::LoginLimits::from_config(&state.config);
            let mut status = StatusCode::UNAUTHORIZED;
            let failure = match login(&oauth.accounts, &limits, client, identifier, password).await
            {
                Ok(l) if l.app_password.is_some() => {
                    "Use your account password here, not an app password"
                }
                Ok(l) if !l.account.is_active() => "This account is not active",
                Ok(l) => {
                    let remember = params.get("remember")? == Some("1");
                    let browser =
                        signed_in(oauth, browser, &info, &l.account.did, remember, now).await?;
                    if !oauth
                        .store
                        .set_request_login(id, &device_id, &l.account.did, now)
                        .await?
                    {
                        return Err(OAuthError::AccessDenied(
                            "This request was already authorized or has expired".into(),
                        ));
                    }
                    return Ok(Cookies::new(oauth, None, &browser).apply(back_to_page()));
                }
                Err(crate::auth::AuthError::Storage(e)) => return Err(e.into()),
                Err(crate::auth::AuthError::Internal(e)) => return Err(OAuthError::Internal(e)),
                Err(crate::auth::AuthError::RateLimited(_)) => {
                    status = StatusCode::TOO_MANY_REQUESTS;
                    "Too many failed sign-ins: wait a few minutes, then try again"
                }
                Err(_) => "Invalid identifier or password",
            };
            let client = oauth.clients.resolve(&row.client_id).await?;
            let view = ClientView::of(&client, oauth.dev_mode);
            let has_remembered = !oauth
                .store
                .device_accounts(&device_id, now)
                .await?
                .is_empty();
            SignInPage {
                ctx: PageContext {
                    client: &view,
                    request_uri,
                    csrf,
                    redirect_uri: &parameters.redirect_uri,
                    dev_mode: oauth.dev_mode,
                },
                login_hint: Some(identifier),
                error: Some(failure),
                has_remembered,
            }
            .render(status)
        }
        "select" => {
            let did = params.required("did")?;
            let chosen = remembered(oauth, &device_id, now)
                .await?
                .into_iter()
                .any(|a| a.did == did);
            if !chosen
                || !oauth
                    .store
                    .touch_device_account(&device_id, did, now)
                    .await?
            {
                return forbidden("This account is not signed in on this device");
            }
            if !oauth
                .store
                .set_request_login(id, &device_id, did, now)
                .await?
            {
                return Err(OAuthError::AccessDenied(
                    "This request was already authorized or has expired".into(),
                ));
            }
            back_to_page()
        }
        "allow" => {
            let Some(did) = row.login_did.as_deref() else {
                return forbidden("Sign in before allowing access");
            };
            if account_view(oauth, did).await?.is_none() {
                return Err(OAuthError::AccessDenied(
                    "This account is not active".into(),
                ));
            }
            let values = parameters.consent_values();
            let scopes: Vec<&str> = values.iter().map(String::as_str).collect();
            let response = approve(oauth, &row, &device_id, did, &parameters, now).await?;
            oauth
                .store
                .record_consent(did, &row.client_id, &scopes, now)
                .await?;
            response
        }
        "signup" => {
            let input = SignUp::from_form(&params, &state.config.service_handle_domains)?;
            let failure = match create_with_identity(state, &input.create).await {
                Ok(account) => {
                    let browser =
                        signed_in(oauth, browser, &info, &account.did, input.remember, now).await?;
                    if !oauth
                        .store
                        .set_request_login(id, &device_id, &account.did, now)
                        .await?
                    {
                        return Err(OAuthError::AccessDenied(
                            "This request was already authorized or has expired".into(),
                        ));
                    }
                    return Ok(Cookies::new(oauth, None, &browser).apply(back_to_page()));
                }
                Err(e) => sign_up_failure(&e, &input.create),
            };
            let client = oauth.clients.resolve(&row.client_id).await?;
            let view = ClientView::of(&client, oauth.dev_mode);
            SignUpPage {
                ctx: PageContext {
                    client: &view,
                    request_uri,
                    csrf,
                    redirect_uri: &parameters.redirect_uri,
                    dev_mode: oauth.dev_mode,
                },
                domains: &state.config.service_handle_domains,
                invite_required: state.config.invite_required,
                values: (
                    &input.typed_handle,
                    input.create.email.as_deref().unwrap_or(""),
                    input.create.invite_code.as_deref().unwrap_or(""),
                ),
                error: Some(&failure),
            }
            .render(StatusCode::BAD_REQUEST)
        }
        _ => return Err(OAuthError::InvalidRequest("Unknown action".into())),
    };
    Ok(response)
}

/// The sign-up form, as `createAccount` takes it.
struct SignUp {
    /// What `createAccount` is asked to create.
    create: CreateAccountInput,
    /// The handle as typed, shown again on a refused attempt.
    typed_handle: String,
    /// Whether "stay signed in" was ticked.
    remember: bool,
}

impl SignUp {
    /// Reads the form. A handle typed without a dot is taken as a name under the first service
    /// domain (`alice` → `alice.example.com`); empty fields count as absent.
    fn from_form(params: &Params, domains: &[String]) -> Result<SignUp, OAuthError> {
        let field = |name: &str| -> Result<Option<String>, OAuthError> {
            Ok(params
                .get(name)?
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned))
        };
        let typed_handle = field("handle")?.unwrap_or_default();
        let handle = match domains.first() {
            Some(domain) if !typed_handle.is_empty() && !typed_handle.contains('.') => {
                format!("{typed_handle}.{}", domain.trim_start_matches('.'))
            }
            _ => typed_handle.clone(),
        };
        Ok(SignUp {
            create: CreateAccountInput {
                email: field("email")?,
                handle,
                did: None,
                invite_code: field("invite_code")?,
                // The password as typed: spaces are part of it.
                password: params
                    .get("password")?
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned),
                recovery_key: None,
            },
            typed_handle,
            remember: params.get("remember")? == Some("1"),
        })
    }
}

/// What the sign-up form says when `createAccount` refused: its own words, put plainly for the
/// refusals a person can fix; a failure of the server is logged and said in general terms.
fn sign_up_failure(error: &XrpcError, input: &CreateAccountInput) -> String {
    match error.error.as_str() {
        "InvalidInviteCode" if input.invite_code.is_none() => {
            "An invite code is required to create an account on this server".into()
        }
        "InvalidInviteCode" => "This invite code is not valid or has been used up".into(),
        "HandleNotAvailable" => format!(
            "The handle {} is already taken: choose another",
            input.handle
        ),
        _ if error.status.is_server_error() => {
            log::error!(
                "sign-up on the authorization page failed: {}",
                error.message
            );
            "The account could not be created: try again later".into()
        }
        _ => error.message.clone(),
    }
}

/// After a successful sign-in on `browser`: remembers the account there (or forgets it, when
/// "stay signed in" was not ticked) and rotates the device secret.
async fn signed_in(
    oauth: &OAuthServer,
    browser: Browser,
    info: &ClientInfo,
    did: &str,
    remember: bool,
    now: i64,
) -> Result<Browser, OAuthError> {
    let device_id = browser.cookie.id.clone();
    if remember {
        let id = random_id::<16>("dva-")?;
        oauth
            .store
            .remember_account(&id, &device_id, did, now, now + REMEMBER_SECS)
            .await?;
    } else {
        oauth.store.forget_device_account(&device_id, did).await?;
    }
    let keep = now
        + if remember {
            REMEMBER_SECS
        } else {
            ANONYMOUS_DEVICE_SECS
        };
    Ok(
        match device::rotate(&oauth.store, &browser.cookie, info, now, keep).await? {
            Some(cookie) => Browser {
                cookie,
                changed: true,
            },
            None => browser,
        },
    )
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
