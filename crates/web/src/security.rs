//! Headers every response carries, the same-origin check on every state-changing request, and
//! who the client is behind a trusted proxy.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

use crate::AppState;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A year: browsers keep to HTTPS for this long after they last saw the header.
const HSTS: &str = "max-age=31536000";

/// The client's address, as [`headers`] found it: the peer's, or the one a trusted proxy
/// forwarded for.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

/// Adds the security headers, refuses cross-site form posts before they reach a handler, and
/// records the client's address for the handlers.
pub async fn headers(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if request.method() == Method::POST && is_cross_site(&request) {
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
/// last address in `X-Forwarded-For` that is not one (each proxy appends the address it heard
/// from, so only the entries trusted proxies added can be believed).
fn client_behind(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map_while(|entry| entry.trim().parse::<IpAddr>().ok())
        .collect();
    forwarded.into_iter().rev().find(|ip| !is_trusted(ip)).unwrap_or(peer)
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
}
