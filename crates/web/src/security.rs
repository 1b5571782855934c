//! Headers every response carries, the same-origin check on every state-changing request, and
//! who the client is behind a trusted proxy.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

use crate::AppState;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A year: browsers keep to HTTPS for this long after they last saw the header.
const HSTS: &str = "max-age=31536000";

/// Addresses that other sites post to by design: applications send people to authorize with a
/// form post, and call the token and userinfo endpoints from their own pages. None of them
/// changes anything on the strength of a cookie alone.
const PROTOCOL_POSTS: [&str; 6] = [
    "/oauth2/v2.0/authorize",
    "/oauth2/v2.0/token",
    "/oauth2/v2.0/revoke",
    "/oauth2/v2.0/introspect",
    "/oauth2/v2.0/logout",
    "/oidc/userinfo",
];

/// Whether `path` is one of [`PROTOCOL_POSTS`], under a tenant's prefix or not.
fn is_protocol_post(path: &str) -> bool {
    PROTOCOL_POSTS
        .iter()
        .any(|p| path == *p || (path.ends_with(p) && path[..path.len() - p.len()].matches('/').count() == 1))
}

/// The client's address, as [`headers`] found it: the peer's, or the one a trusted proxy
/// forwarded for.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

/// Adds the security headers, refuses cross-site form posts before they reach a handler, and
/// records the client's address for the handlers.
pub async fn headers(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if request.method() == Method::POST && is_cross_site(&request) && !is_protocol_post(request.uri().path()) {
        return (StatusCode::FORBIDDEN, "Cross-site form submissions are refused.").into_response();
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let Some(peer) = peer {
        let client = client_behind(peer, request.headers(), &state.config.trusted_proxies);
        request.extensions_mut().insert(ClientAddress(client));
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    if state.config.secure_cookies {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The client of a request from `peer`: `peer` itself unless it is a trusted proxy, else the
/// nearest address in `X-Forwarded-For` that is not one. Each proxy appends the address it
/// heard from, so the list is read from the right and only as far as trusted proxies wrote it:
/// the entries further left are whatever the client sent, and an entry that is no address
/// stops the walk at the last trusted hop.
fn client_behind(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let lines: Vec<String> =
        headers.get_all("x-forwarded-for").iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect();
    let mut hop = peer;
    for entry in lines.iter().rev().flat_map(|line| line.rsplit(',')) {
        let Some(ip) = forwarded_address(entry.trim()) else { return hop };
        if !is_trusted(&ip) {
            return ip;
        }
        hop = ip;
    }
    hop
}

/// An address as proxies write it in `X-Forwarded-For`: bare, with a port, or bracketed.
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    entry.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).and_then(|inner| inner.parse().ok())
}

/// Browsers send `Sec-Fetch-Site` and `Origin` with form posts; either naming another site
/// means the post did not come from our own pages. Requests without them (scripts) pass on to
/// the per-session CSRF token check.
fn is_cross_site(request: &Request) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site == "cross-site" || site == "same-site" {
            return true;
        }
    }
    let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    if origin == "null" {
        return true;
    }
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
    origin_host != host
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        let headers = forwarded("198.51.100.7, 203.0.113.9");
        assert_eq!(client_behind(proxy, &headers, &trusted), "203.0.113.9".parse::<IpAddr>().unwrap());
        let stranger: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(client_behind(stranger, &headers, &trusted), stranger, "anyone can write the header");
        assert_eq!(
            client_behind(proxy, &forwarded("203.0.113.9, 10.0.0.4"), &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_behind(proxy, &HeaderMap::new(), &trusted), proxy);
    }

    #[test]
    fn what_the_client_wrote_itself_cannot_hide_it() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        for written in ["junk, 203.0.113.9", "198.51.100.1, 203.0.113.9", "203.0.113.9:5678", "[203.0.113.9]"] {
            assert_eq!(client_behind(proxy, &forwarded(written), &trusted), client, "{written}");
        }
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(client_behind(proxy, &forwarded("[2001:db8::1]:443"), &trusted), v6);
        assert_eq!(
            client_behind(proxy, &forwarded("203.0.113.9, junk"), &trusted),
            proxy,
            "the proxy's own entry is bad"
        );
    }
}
