//! The redirect policy of clients that fetch URLs chosen by others: at most a given number of hops,
//! each to `https` (or plain `http` where the client allows it), and never to an IP literal the
//! [`AddressPolicy`] refuses — a literal address bypasses the resolver, so it is checked here.
//! Names are checked when the next hop resolves them.

use reqwest::redirect::Policy;

use super::AddressPolicy;

/// A policy following at most `max_hops` redirects under `addresses` (see the module notes).
pub fn checked(max_hops: usize, addresses: AddressPolicy, allow_plain_http: bool) -> Policy {
    Policy::custom(move |attempt| {
        if attempt.previous().len() > max_hops {
            return attempt.error(format!("more than {max_hops} redirects"));
        }
        let url = attempt.url();
        let scheme_ok = match url.scheme() {
            "https" => true,
            "http" => allow_plain_http,
            _ => false,
        };
        if !scheme_ok {
            let refused = format!("redirect to a {} URL refused", url.scheme());
            return attempt.error(refused);
        }
        if !addresses.allows_host(url.host()) {
            return attempt.error("redirect to a non-public address refused");
        }
        attempt.follow()
    })
}
