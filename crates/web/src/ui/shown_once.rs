//! What a page shows once after a form's redirect (a generated password): sealed by the server
//! into a cookie that only the page it leads to reads, and that page's answer removes. No server
//! keeps the secret, any node can show it, and a reload neither shows it again nor posts again.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use roster_domain::directory::ShownOnce;
use roster_domain::UserId;

use crate::session::SignedIn;
use crate::AppState;

/// The cookie's name; its path is the one page that reads it.
const COOKIE: &str = "roster_shown_once";

fn cookie(path: &str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path(path.to_string())
        .max_age(time::Duration::minutes(10))
        .build()
}

/// `jar` with `shown` sealed for the page at `path`, about `user`, for the administrator `me`.
pub fn keep(state: &AppState, me: &SignedIn, jar: CookieJar, path: &str, user: UserId, shown: &ShownOnce) -> CookieJar {
    let sealed = state.directory.seal_shown_once(&me.actor, user, shown);
    jar.add(cookie(path, sealed, state.config.secure_cookies))
}

/// What was kept for the page at `path`, if it is there and opens for `me` and `user`; with the
/// jar that removes it.
pub fn take(
    state: &AppState,
    me: &SignedIn,
    jar: CookieJar,
    path: &str,
    user: UserId,
) -> (CookieJar, Option<ShownOnce>) {
    let shown = jar.get(COOKIE).and_then(|c| state.directory.open_shown_once(&me.actor, user, c.value()));
    (jar.remove(cookie(path, String::new(), state.config.secure_cookies)), shown)
}
