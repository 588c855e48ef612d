//! The server-rendered HTML of the authorization endpoint: the login and consent page (it names the
//! client, where it will return, and each scope it asks for; it works without JavaScript; its form
//! carries a CSRF token) and the error page. Every interpolated value is HTML-escaped.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// What the consent page shows.
pub struct ConsentPage<'a> {
    /// The client's id.
    pub client_id: &'a str,
    /// The client's display name, if any.
    pub client_name: Option<&'a str>,
    /// Where the browser goes back to.
    pub redirect_uri: &'a str,
    /// The scope values asked for.
    pub scopes: &'a [String],
    /// The request being approved.
    pub request_uri: &'a str,
    /// The form's CSRF token.
    pub csrf: &'a str,
    /// The identifier to prefill.
    pub login_hint: Option<&'a str>,
    /// An error from the previous attempt.
    pub error: Option<&'a str>,
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

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#111}\
code{background:#eee;padding:0 .2rem;border-radius:3px;word-break:break-all}\
label{display:block;margin:.8rem 0}input{display:block;width:100%;padding:.5rem;box-sizing:border-box}\
button{padding:.6rem 1rem;margin:.8rem .5rem 0 0}.error{color:#a00;font-weight:bold}";

impl ConsentPage<'_> {
    /// The page, with `status` (200, or 400 after a failed attempt).
    pub fn render(&self, status: StatusCode) -> Response {
        let client = match self.client_name {
            Some(name) => format!(
                "<strong id=\"client-name\">{}</strong> (<code id=\"client-id\">{}</code>)",
                escape(name),
                escape(self.client_id)
            ),
            None => format!("<code id=\"client-id\">{}</code>", escape(self.client_id)),
        };
        let scopes: String = self
            .scopes
            .iter()
            .map(|s| {
                format!(
                    "<li data-scope=\"{}\">{}</li>",
                    escape(s),
                    escape(&describe_scope(s))
                )
            })
            .collect();
        let error = self
            .error
            .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", escape(e)))
            .unwrap_or_default();
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>Authorize {client_title}</title><style>{STYLE}</style></head><body><main>\
<h1>Sign in to authorize an app</h1>\
<p>{client} asks to access your account. It will return to <code id=\"redirect\">{redirect}</code>.</p>\
<h2>It asks to</h2><ul id=\"scopes\">{scopes}</ul>{error}\
<form method=\"post\" action=\"/oauth/authorize\">\
<input type=\"hidden\" name=\"request_uri\" value=\"{request_uri}\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<label>Handle, email or DID<input name=\"identifier\" id=\"identifier\" autocomplete=\"username\" value=\"{hint}\"></label>\
<label>Password<input type=\"password\" name=\"password\" id=\"password\" autocomplete=\"current-password\"></label>\
<button type=\"submit\" name=\"action\" value=\"allow\" id=\"allow\">Sign in and allow</button>\
<button type=\"submit\" name=\"action\" value=\"deny\" id=\"deny\">Deny</button>\
</form></main></body></html>",
            client_title = escape(self.client_name.unwrap_or(self.client_id)),
            redirect = escape(self.redirect_uri),
            request_uri = escape(self.request_uri),
            csrf = escape(self.csrf),
            hint = escape(self.login_hint.unwrap_or("")),
        );
        secure(status, body)
    }
}

/// An error page.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
<style>{STYLE}</style></head><body><main><h1>{t}</h1><p class=\"error\" id=\"error\">{m}</p></main></body></html>",
        t = escape(title),
        m = escape(message)
    );
    secure(status, body)
}

/// An HTML response that is never cached, framed or given scripts.
fn secure(status: StatusCode, body: String) -> Response {
    let mut response = (status, Html(body)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
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
}
