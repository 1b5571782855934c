//! The one place where failures become HTTP responses for the pages.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use roster_domain::DomainError;

use crate::session::SESSION_COOKIE;
use crate::AppState;

/// Why a page could not be shown or a form not applied.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in (or the session ended): go to the sign-in page, then come back.
    SignIn { next: String },
    /// Must change the password before anything else.
    ChangePassword,
    /// Signed in with a Temporary Access Pass, which opens Security info and nothing else.
    AccessPassOnly,
    /// A form without the session's CSRF token.
    BadToken,
    /// Anything the domain refused or failed at.
    Domain(DomainError),
}

impl From<DomainError> for PageError {
    fn from(e: DomainError) -> Self {
        PageError::Domain(e)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    title: String,
    message: String,
    /// Where to go from here: its address and the link's words.
    onward: (&'static str, &'static str),
}

/// Renders any template into a response, or a plain 500 if rendering itself fails.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.").into_response()
        }
    }
}

/// A full error page.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let onward = ("/account", "Go to your account");
    render(status, &ErrorPage { title: title.into(), message: message.into(), onward })
}

/// The fallback for unknown URLs: onward to the admin center for an administrator, to My
/// account for anyone else signed in, and to sign-in for everyone else.
pub async fn not_found(jar: CookieJar, State(state): State<AppState>) -> Response {
    let signed_in = match jar.get(SESSION_COOKIE) {
        Some(token) => state.directory.session(token.value()).await.ok().flatten(),
        None => None,
    };
    let onward = match signed_in {
        Some((_, user)) if user.roles.is_admin() => ("/admin", "Go to the admin center"),
        Some(_) => ("/account", "Go to your account"),
        None => ("/signin", "Sign in"),
    };
    let page =
        ErrorPage { title: "Page not found".into(), message: "There is no page at this address.".into(), onward };
    render(StatusCode::NOT_FOUND, &page)
}

/// Status and words for a domain error shown on a page.
pub fn describe(e: &DomainError) -> (StatusCode, String) {
    match e {
        DomainError::Invalid(errors) => {
            (StatusCode::UNPROCESSABLE_ENTITY, errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join(" "))
        }
        DomainError::Forbidden(why) => (StatusCode::FORBIDDEN, why.clone()),
        DomainError::NotFound(what) => (StatusCode::NOT_FOUND, format!("This {what} doesn't exist or was removed.")),
        DomainError::VersionConflict { changed_by, changed_at } => (
            StatusCode::CONFLICT,
            format!(
                "{changed_by} changed this user at {} after you opened it. Nothing was saved. \
                 Open the user again to see their changes, then make yours.",
                changed_at.display()
            ),
        ),
        DomainError::Contended => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Others kept changing this user while your change waited. Nothing was saved; try again.".into(),
        ),
        DomainError::UsernameTaken(name) => (StatusCode::CONFLICT, format!("The username {name} is already in use.")),
        DomainError::Throttled => (StatusCode::TOO_MANY_REQUESTS, "Too many attempts. Try again later.".into()),
        DomainError::Limited(why) => (StatusCode::TOO_MANY_REQUESTS, why.clone()),
        DomainError::ReauthenticationRequired => {
            (StatusCode::FORBIDDEN, "Confirm your password to make this change.".into())
        }
        DomainError::Internal(_) | DomainError::Store(_) => {
            tracing::error!(error = %e, "request failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side. Nothing was changed.".into())
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn { next } => {
                let target = match local_path(&next) {
                    Some(path) if path != "/" => format!("/signin?next={}", urlencode(path)),
                    _ => "/signin".to_string(),
                };
                Redirect::to(&target).into_response()
            }
            PageError::ChangePassword => Redirect::to("/account/password").into_response(),
            PageError::AccessPassOnly => Redirect::to("/account/security").into_response(),
            PageError::BadToken => error_page(
                StatusCode::FORBIDDEN,
                "Your form expired",
                "The page you submitted was out of date. Go back, reload it and try again.",
            ),
            PageError::Domain(DomainError::ReauthenticationRequired) => {
                Redirect::to("/account/reauth?next=%2Faccount%2Fsecurity").into_response()
            }
            PageError::Domain(e) => {
                let (status, message) = describe(&e);
                let title = match status {
                    StatusCode::FORBIDDEN => "You can't do that",
                    StatusCode::NOT_FOUND => "Not found",
                    StatusCode::CONFLICT => "Someone else changed this",
                    StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
                    StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong",
                    _ => "That didn't work",
                };
                error_page(status, title, &message)
            }
        }
    }
}

/// `next` if it is a path on this site, for redirecting back after sign-in; `None` for anything
/// a browser could read as another site (`//host`, `/\\host`, with tabs or line breaks removed).
pub fn local_path(next: &str) -> Option<&str> {
    let safe =
        next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') && !next.chars().any(char::is_control);
    safe.then_some(next)
}

/// Percent-encodes a query-string value.
pub fn urlencode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path("/admin/users?q=a"), Some("/admin/users?q=a"));
        for bad in
            ["", "https://evil.example", "//evil.example", "/\\evil.example", "/\t/evil.example", "/a\r\nSet-Cookie: x"]
        {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }
}
