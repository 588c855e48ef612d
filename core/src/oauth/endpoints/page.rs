//! The server-rendered HTML of the authorization endpoint, one page per step: sign in
//! ([`SignInPage`]), choose one of the accounts remembered on this browser ([`ChooserPage`]),
//! create an account ([`SignUpPage`]), allow or deny ([`ConsentPage`]), and the error page.
//!
//! Every page names the client as its metadata describes it ([`ClientView`]: name, logo, home
//! page, terms, privacy policy; a loopback client is marked as a development client). Every
//! interpolated value is HTML-escaped, so a `client_name` with markup shows as text, and a URI is
//! rendered as a link or an image only when [`crate::oauth::client::safe_link`] allows it. The
//! pages need no JavaScript (the Content-Security-Policy allows none), read at phone width and in
//! dark mode (`prefers-color-scheme`), and every control has a label and works from the keyboard.
//! Forms carry the CSRF token of the step.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::oauth::client::{safe_link, ClientMetadata};

/// How the pages present a client.
#[derive(Debug, Clone, Default)]
pub struct ClientView {
    /// The client id.
    pub client_id: String,
    /// Its name, as text.
    pub name: Option<String>,
    /// Its logo, if safe to show.
    pub logo: Option<String>,
    /// Its home page, if safe to link.
    pub home: Option<String>,
    /// Its terms of service, if safe to link.
    pub tos: Option<String>,
    /// Its privacy policy, if safe to link.
    pub policy: Option<String>,
    /// Whether it is a loopback (development) client.
    pub development: bool,
}

impl ClientView {
    /// The view of `client`; `dev_mode` allows plain-http links.
    pub fn of(client: &ClientMetadata, dev_mode: bool) -> ClientView {
        let link = |u: &Option<String>| u.as_deref().and_then(|u| safe_link(u, dev_mode));
        ClientView {
            client_id: client.client_id.clone(),
            name: client
                .client_name
                .as_deref()
                .map(|n| n.chars().filter(|c| !c.is_control()).take(100).collect())
                .filter(|n: &String| !n.trim().is_empty()),
            logo: link(&client.logo_uri),
            home: link(&client.client_uri),
            tos: link(&client.tos_uri),
            policy: link(&client.policy_uri),
            development: client.is_loopback,
        }
    }

    /// How the text names the client: its name, else (its id being shown above) a development
    /// app or its id.
    fn title(&self) -> &str {
        match &self.name {
            Some(name) => name,
            None if self.development => "a development app",
            None => &self.client_id,
        }
    }

    fn render(&self) -> String {
        let logo = self
            .logo
            .as_deref()
            .map(|l| {
                format!(
                    "<img id=\"client-logo\" src=\"{}\" alt=\"\" width=\"48\" height=\"48\" referrerpolicy=\"no-referrer\">",
                    escape(l)
                )
            })
            .unwrap_or_default();
        let name = match &self.name {
            Some(n) => format!(
                "<p class=\"client-name\" id=\"client-name\">{}</p>",
                escape(n)
            ),
            None => String::new(),
        };
        let links: Vec<String> = [
            ("client-uri", "Website", &self.home),
            ("client-tos", "Terms of service", &self.tos),
            ("client-policy", "Privacy policy", &self.policy),
        ]
        .into_iter()
        .filter_map(|(id, label, uri)| {
            uri.as_deref().map(|u| {
                format!(
                    "<a id=\"{id}\" href=\"{}\" rel=\"noopener noreferrer\" target=\"_blank\">{label}</a>",
                    escape(u)
                )
            })
        })
        .collect();
        let links = if links.is_empty() {
            String::new()
        } else {
            format!("<p class=\"links\">{}</p>", links.join(" · "))
        };
        let dev = if self.development {
            "<p class=\"notice\" id=\"development-client\">Development client: an app running on \
this computer, whose identity nobody has verified.</p>"
        } else {
            ""
        };
        format!(
            "<header class=\"client\" id=\"client\">{logo}<div>{name}\
<p class=\"client-id\"><code id=\"client-id\">{}</code></p>{links}</div></header>{dev}",
            escape(&self.client_id)
        )
    }
}

/// The request a page belongs to: its ids, the CSRF token, and the client.
#[derive(Debug, Clone)]
pub struct PageContext<'a> {
    /// The client.
    pub client: &'a ClientView,
    /// The request being authorized.
    pub request_uri: &'a str,
    /// The form's CSRF token.
    pub csrf: &'a str,
    /// Where the browser goes back to.
    pub redirect_uri: &'a str,
    /// Whether links and images may use plain http (development mode).
    pub dev_mode: bool,
}

impl PageContext<'_> {
    /// The authorization page of this request showing `view` (`signin`, `signup`, `choose`).
    pub fn view_href(&self, view: &str) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client.client_id)
            .append_pair("request_uri", self.request_uri)
            .append_pair("view", view)
            .finish();
        format!("/oauth/authorize?{query}")
    }

    fn hidden(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"request_uri\" value=\"{}\">\
<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            escape(self.request_uri),
            escape(self.csrf)
        )
    }

    fn deny_form(&self, label: &str) -> String {
        format!(
            "<form method=\"post\" action=\"/oauth/authorize\" class=\"secondary\">{}\
<button type=\"submit\" name=\"action\" value=\"deny\" id=\"deny\">{label}</button></form>",
            self.hidden()
        )
    }
}

/// The sign-in step.
pub struct SignInPage<'a> {
    /// The request.
    pub ctx: PageContext<'a>,
    /// The identifier to prefill.
    pub login_hint: Option<&'a str>,
    /// An error from the previous attempt.
    pub error: Option<&'a str>,
    /// Whether accounts are remembered on this browser (a link back to the chooser).
    pub has_remembered: bool,
}

impl SignInPage<'_> {
    /// The page, with `status`.
    pub fn render(&self, status: StatusCode) -> Response {
        let c = &self.ctx;
        let chooser = if self.has_remembered {
            format!(
                " · <a id=\"choose-account\" href=\"{}\">Choose a signed-in account</a>",
                escape(&c.view_href("choose"))
            )
        } else {
            String::new()
        };
        let body = format!(
            "{client}<h1>Sign in</h1>\
<p>to continue to <strong>{title}</strong>.</p>{error}\
<form method=\"post\" action=\"/oauth/authorize\">{hidden}\
<label for=\"identifier\">Handle, email or DID</label>\
<input id=\"identifier\" name=\"identifier\" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required value=\"{hint}\">\
<label for=\"password\">Password</label>\
<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
<p class=\"check\"><input type=\"checkbox\" id=\"remember\" name=\"remember\" value=\"1\">\
<label for=\"remember\">Stay signed in on this device</label></p>\
<p class=\"actions\"><button type=\"submit\" name=\"action\" value=\"signin\" id=\"signin\" class=\"primary\">Sign in</button></p>\
</form>{deny}\
<p class=\"more\"><a id=\"create-account\" href=\"{signup}\">Create an account</a>{chooser}</p>",
            client = c.client.render(),
            title = escape(c.client.title()),
            error = error_paragraph(self.error),
            hidden = c.hidden(),
            hint = escape(self.login_hint.unwrap_or("")),
            deny = c.deny_form("Cancel"),
            signup = escape(&c.view_href("signup")),
        );
        document(status, "Sign in", &body, c.dev_mode)
    }
}

/// An account offered by the chooser or named on the consent page.
#[derive(Debug, Clone)]
pub struct AccountView {
    /// Its DID.
    pub did: String,
    /// Its handle.
    pub handle: String,
}

/// The account chooser: the accounts remembered on this browser.
pub struct ChooserPage<'a> {
    /// The request.
    pub ctx: PageContext<'a>,
    /// The accounts.
    pub accounts: &'a [AccountView],
}

impl ChooserPage<'_> {
    /// The page.
    pub fn render(&self, status: StatusCode) -> Response {
        let c = &self.ctx;
        let accounts: String = self
            .accounts
            .iter()
            .map(|a| {
                format!(
                    "<li><button type=\"submit\" name=\"did\" value=\"{did}\" class=\"account\" data-did=\"{did}\">\
<span class=\"handle\">@{handle}</span><span class=\"did\">{did}</span></button></li>",
                    did = escape(&a.did),
                    handle = escape(&a.handle)
                )
            })
            .collect();
        let body = format!(
            "{client}<h1>Choose an account</h1>\
<p>to continue to <strong>{title}</strong>.</p>\
<form method=\"post\" action=\"/oauth/authorize\">{hidden}\
<input type=\"hidden\" name=\"action\" value=\"select\">\
<ul class=\"accounts\" id=\"accounts\">{accounts}</ul></form>\
<p class=\"more\"><a id=\"other-account\" href=\"{signin}\">Use another account</a> · \
<a id=\"create-account\" href=\"{signup}\">Create an account</a></p>{deny}",
            client = c.client.render(),
            title = escape(c.client.title()),
            hidden = c.hidden(),
            signin = escape(&c.view_href("signin")),
            signup = escape(&c.view_href("signup")),
            deny = c.deny_form("Cancel"),
        );
        document(status, "Choose an account", &body, c.dev_mode)
    }
}

/// One permission the client asks for, in words.
#[derive(Debug, Clone)]
pub struct ScopeLine {
    /// The scope value (kept in `data-scope`).
    pub scope: String,
    /// What it lets the client do.
    pub title: String,
    /// A longer explanation, if any.
    pub detail: Option<String>,
}

impl ScopeLine {
    /// The line of a plain scope value.
    pub fn plain(scope: &str) -> ScopeLine {
        ScopeLine {
            scope: scope.to_owned(),
            title: describe_scope(scope),
            detail: None,
        }
    }
}

/// The consent step.
pub struct ConsentPage<'a> {
    /// The request.
    pub ctx: PageContext<'a>,
    /// The account that would grant access.
    pub account: &'a AccountView,
    /// What the client asks for.
    pub scopes: &'a [ScopeLine],
    /// Where "Not you?" leads.
    pub switch_href: String,
    /// An error from the previous attempt.
    pub error: Option<&'a str>,
}

impl ConsentPage<'_> {
    /// The page, with `status`.
    pub fn render(&self, status: StatusCode) -> Response {
        let c = &self.ctx;
        let scopes: String = self
            .scopes
            .iter()
            .map(|s| {
                let detail = s
                    .detail
                    .as_deref()
                    .map(|d| format!("<span class=\"detail\">{}</span>", escape(d)))
                    .unwrap_or_default();
                format!(
                    "<li data-scope=\"{}\"><span class=\"title\">{}</span>{detail}</li>",
                    escape(&s.scope),
                    escape(&s.title)
                )
            })
            .collect();
        let body = format!(
            "{client}<h1>Allow access?</h1>\
<p id=\"account\">Signed in as <strong>@{handle}</strong> \
<a id=\"switch-account\" href=\"{switch}\">Not you?</a></p>\
<p><strong>{title}</strong> asks to:</p><ul id=\"scopes\">{scopes}</ul>\
<p class=\"small\">It will return to <code id=\"redirect\">{redirect}</code>.</p>{error}\
<form method=\"post\" action=\"/oauth/authorize\">{hidden}\
<p class=\"actions\"><button type=\"submit\" name=\"action\" value=\"allow\" id=\"allow\" class=\"primary\">Allow</button> \
<button type=\"submit\" name=\"action\" value=\"deny\" id=\"deny\">Deny</button></p></form>",
            client = c.client.render(),
            handle = escape(&self.account.handle),
            switch = escape(&self.switch_href),
            title = escape(c.client.title()),
            redirect = escape(c.redirect_uri),
            error = error_paragraph(self.error),
            hidden = c.hidden(),
        );
        document(status, "Allow access?", &body, c.dev_mode)
    }
}

/// The sign-up step.
pub struct SignUpPage<'a> {
    /// The request.
    pub ctx: PageContext<'a>,
    /// The handle domains accounts may use.
    pub domains: &'a [String],
    /// Whether an invite code is required.
    pub invite_required: bool,
    /// What the form held on a failed attempt: handle, email, invite code.
    pub values: (&'a str, &'a str, &'a str),
    /// An error from the previous attempt.
    pub error: Option<&'a str>,
}

impl SignUpPage<'_> {
    /// The page, with `status`.
    pub fn render(&self, status: StatusCode) -> Response {
        let c = &self.ctx;
        let domains: String = self
            .domains
            .iter()
            .map(|d| format!("<code>{}</code>", escape(d)))
            .collect::<Vec<_>>()
            .join(", ");
        let invite = format!(
            "<label for=\"invite-code\">Invite code{}</label>\
<input id=\"invite-code\" name=\"invite_code\" autocomplete=\"off\" value=\"{}\"{}>",
            if self.invite_required {
                ""
            } else {
                " (optional)"
            },
            escape(self.values.2),
            if self.invite_required {
                " required"
            } else {
                ""
            }
        );
        let body = format!(
            "{client}<h1>Create an account</h1>\
<p>to continue to <strong>{title}</strong>.</p>{error}\
<form method=\"post\" action=\"/oauth/authorize\">{hidden}\
<label for=\"handle\">Handle</label>\
<input id=\"handle\" name=\"handle\" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required aria-describedby=\"handle-help\" value=\"{handle}\">\
<p class=\"small\" id=\"handle-help\">Ending with {domains} (a name alone gets the first)</p>\
<label for=\"email\">Email</label>\
<input type=\"email\" id=\"email\" name=\"email\" autocomplete=\"email\" required value=\"{email}\">\
<label for=\"new-password\">Password</label>\
<input type=\"password\" id=\"new-password\" name=\"password\" autocomplete=\"new-password\" required minlength=\"8\">\
{invite}\
<p class=\"check\"><input type=\"checkbox\" id=\"remember\" name=\"remember\" value=\"1\">\
<label for=\"remember\">Stay signed in on this device</label></p>\
<p class=\"actions\"><button type=\"submit\" name=\"action\" value=\"signup\" id=\"signup\" class=\"primary\">Create account</button></p>\
</form>{deny}<p class=\"more\"><a id=\"signin-instead\" href=\"{signin}\">Sign in instead</a></p>",
            client = c.client.render(),
            title = escape(c.client.title()),
            error = error_paragraph(self.error),
            hidden = c.hidden(),
            handle = escape(self.values.0),
            email = escape(self.values.1),
            deny = c.deny_form("Cancel"),
            signin = escape(&c.view_href("signin")),
        );
        document(status, "Create an account", &body, c.dev_mode)
    }
}

fn error_paragraph(error: Option<&str>) -> String {
    error
        .map(|e| {
            format!(
                "<p class=\"error\" id=\"error\" role=\"alert\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default()
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What a scope value lets the client do, in words.
pub fn describe_scope(scope: &str) -> String {
    match scope {
        "atproto" => "Know who you are (your DID and handle)".into(),
        "transition:generic" => {
            "Read and write all your public data, like an app password (no account settings, no direct messages)".into()
        }
        "transition:chat.bsky" => "Read and send your direct messages".into(),
        "transition:email" => "Read your email address".into(),
        s if s.starts_with("repo") => format!("Write records: {s}"),
        s if s.starts_with("blob") => format!("Upload files: {s}"),
        s if s.starts_with("rpc") => format!("Call services for you: {s}"),
        s if s.starts_with("account") => format!("Account settings: {s}"),
        s if s.starts_with("identity") => format!("Change your identity: {s}"),
        s => s.to_owned(),
    }
}

const STYLE: &str = ":root{color-scheme:light dark;--bg:#fff;--fg:#16181c;--muted:#5b6470;--line:#d5dae0;\
--card:#f4f6f8;--accent:#0b5fd6;--accent-fg:#fff;--error:#b00020;--notice:#7a4a00;--notice-bg:#fff4dc}\
@media (prefers-color-scheme:dark){:root{--bg:#111417;--fg:#e8eaed;--muted:#a5adb8;--line:#3a4048;\
--card:#1c2025;--accent:#6ea8ff;--accent-fg:#0b1320;--error:#ff8a80;--notice:#ffd28a;--notice-bg:#3a2c10}}\
*{box-sizing:border-box}html{-webkit-text-size-adjust:100%}\
body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:var(--bg);color:var(--fg);margin:0}\
main{max-width:30rem;margin:0 auto;padding:1.5rem 1rem 3rem}\
h1{font-size:1.5rem;margin:1.2rem 0 .3rem}p,li{overflow-wrap:anywhere}a{color:var(--accent)}\
a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid var(--accent);outline-offset:2px}\
code{background:var(--card);padding:0 .25rem;border-radius:4px;word-break:break-all;font-size:.9em}\
.client{display:flex;gap:.8rem;align-items:center;padding:.8rem;background:var(--card);border:1px solid var(--line);border-radius:10px}\
.client img{width:48px;height:48px;border-radius:8px;flex:none;object-fit:contain}\
.client div{min-width:0}.client p{margin:0}.client-name{font-weight:700;font-size:1.1rem;overflow-wrap:anywhere}\
.client-id{color:var(--muted);font-size:.85rem}.links{font-size:.9rem}\
.notice{background:var(--notice-bg);color:var(--notice);padding:.5rem .8rem;border-radius:8px;font-size:.9rem}\
label{display:block;margin:1rem 0 .3rem;font-weight:600}\
input{display:block;width:100%;padding:.7rem;font:inherit;color:var(--fg);background:var(--bg);border:1px solid var(--line);border-radius:8px}\
.check{display:flex;align-items:center;gap:.5rem;margin:1rem 0}.check input{width:1.25rem;height:1.25rem;margin:0}.check label{margin:0;font-weight:400}\
button{font:inherit;padding:.7rem 1.2rem;border-radius:8px;border:1px solid var(--line);background:var(--card);color:var(--fg);cursor:pointer;min-height:44px}\
button.primary{background:var(--accent);color:var(--accent-fg);border-color:var(--accent);font-weight:600}\
.actions{display:flex;gap:.6rem;flex-wrap:wrap;margin:1.2rem 0 .4rem}.actions button{flex:1}\
form.secondary button{width:100%}\
ul#scopes{padding-left:1.2rem}ul#scopes li{margin:.4rem 0}.detail{display:block;color:var(--muted);font-size:.9rem}\
ul.accounts{list-style:none;padding:0}ul.accounts li{margin:.5rem 0}\
button.account{width:100%;text-align:left;display:flex;flex-direction:column}\
.handle{font-weight:600;overflow-wrap:anywhere}.did{color:var(--muted);font-size:.8rem;word-break:break-all}\
.small,.more{font-size:.9rem;color:var(--muted)}.error{color:var(--error);font-weight:600}";

/// A whole page: `body` inside the common head.
fn document(status: StatusCode, title: &str, body: &str, dev_mode: bool) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta name=\"color-scheme\" content=\"light dark\">\
<title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    );
    secure(status, html, dev_mode)
}

/// An error page.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><p class=\"error\" id=\"error\">{}</p>",
        escape(title),
        escape(message)
    );
    document(status, title, &body, false)
}

/// An HTML response that is never cached, framed or given scripts; images only from https (and
/// http in development mode). No `form-action`: Chromium applies it to the redirect that follows
/// a form, and the consent form redirects to the client.
fn secure(status: StatusCode, body: String, dev_mode: bool) -> Response {
    let mut response = (status, Html(body)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if dev_mode {
            "default-src 'none'; style-src 'unsafe-inline'; img-src https: http:; \
             frame-ancestors 'none'; base-uri 'none'"
        } else {
            "default-src 'none'; style-src 'unsafe-inline'; img-src https:; \
             frame-ancestors 'none'; base-uri 'none'"
        }),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_interpolated_is_escaped() {
        assert_eq!(
            escape("<script>\"x\"&'y'</script>"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn hostile_client_metadata_is_shown_as_text_and_unsafe_uris_are_dropped() {
        let mut client = ClientMetadata::loopback("http://localhost").unwrap();
        client.is_loopback = false;
        client.client_name = Some("<img src=x onerror=alert(1)>Evil".into());
        client.logo_uri = Some("data:image/png;base64,AAAA".into());
        client.client_uri = Some("javascript:alert(1)".into());
        client.tos_uri = Some("http://app.example/tos".into());
        client.policy_uri = Some("https://app.example/policy".into());
        let view = ClientView::of(&client, false);
        let html = view.render();
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;Evil"),
            "{html}"
        );
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("http://app.example/tos"), "{html}");
        assert!(
            html.contains("href=\"https://app.example/policy\""),
            "{html}"
        );
        assert!(!html.contains("development-client"));
        let dev = ClientView::of(&client, true).render();
        assert!(dev.contains("href=\"http://app.example/tos\""), "{dev}");
    }
}
