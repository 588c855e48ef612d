//! Request parameters of the OAuth endpoints: `application/x-www-form-urlencoded` bodies (and the
//! authorization endpoint's query), with each parameter allowed at most once (RFC 6749 §3.1) and
//! every size bounded.

use super::OAuthError;

/// The largest form body read, in bytes.
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// The most parameters a form may have.
const MAX_PARAMS: usize = 64;

/// Parsed parameters.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a form body or query string.
    pub fn parse(bytes: &[u8]) -> Result<Params, OAuthError> {
        if bytes.len() > MAX_FORM_BYTES {
            return Err(OAuthError::InvalidRequest("Request body too large".into()));
        }
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(bytes)
            .take(MAX_PARAMS + 1)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.len() > MAX_PARAMS {
            return Err(OAuthError::InvalidRequest("Too many parameters".into()));
        }
        Ok(Params(pairs))
    }

    /// Checks the `Content-Type` of a form body, then parses it.
    pub fn from_body(content_type: Option<&str>, body: &[u8]) -> Result<Params, OAuthError> {
        let mime = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        if mime.as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(OAuthError::InvalidRequest(
                "Content-Type must be application/x-www-form-urlencoded".into(),
            ));
        }
        Params::parse(body)
    }

    /// The value of `name`, if given once; an error if given more than once.
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        match (found.next(), found.next()) {
            (Some((_, v)), None) => Ok(Some(v.as_str())),
            (None, _) => Ok(None),
            (Some(_), Some(_)) => Err(OAuthError::InvalidRequest(format!(
                "Parameter \"{name}\" must not be repeated"
            ))),
        }
    }

    /// The value of `name`, which must be given once and not be empty.
    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        match self.get(name)? {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(OAuthError::InvalidRequest(format!(
                "Missing required parameter \"{name}\""
            ))),
        }
    }

    /// Whether `name` is present at all.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_read_once_and_repeats_refused() {
        let p = Params::parse(b"a=1&b=x%20y&c=&d=1&d=2").unwrap();
        assert_eq!(p.get("a").unwrap(), Some("1"));
        assert_eq!(p.get("b").unwrap(), Some("x y"));
        assert_eq!(p.get("z").unwrap(), None);
        assert!(p.required("c").is_err());
        assert!(p.get("d").is_err());
        assert!(Params::parse(&vec![b'a'; MAX_FORM_BYTES + 1]).is_err());
        assert!(Params::parse("a=1&".repeat(MAX_PARAMS + 1).as_bytes()).is_err());
        assert!(Params::from_body(Some("application/json"), b"a=1").is_err());
        assert!(Params::from_body(
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"a=1"
        )
        .is_ok());
    }
}
