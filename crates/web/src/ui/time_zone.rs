//! Times as their reader reads them, and the choice of time zone on My account.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use roster_domain::time_zone::Zone;
use roster_domain::{DomainError, Timestamp};
use serde::Deserialize;

use crate::error::PageError;
use crate::extract::{Checked, ReaderZone};
use crate::session::SignedIn;
use crate::ui::account;
use crate::AppState;

/// A moment as a page shows it: in the reader's time zone, with UTC in the markup and, for a
/// reader elsewhere, on hover.
pub struct Moment {
    /// As the reader reads it, such as `2026-12-07 18:45 CET`.
    pub shown: String,
    /// RFC 3339 in UTC, for the `datetime` attribute.
    pub utc: String,
    /// The UTC time in words, when `shown` is in another zone.
    pub utc_shown: Option<String>,
}

impl Moment {
    /// `at` for a reader in `zone`.
    pub fn at(zone: &Zone, at: Timestamp) -> Moment {
        Moment { shown: zone.show(at), utc: at.rfc3339(), utc_shown: (!zone.is_utc()).then(|| at.display()) }
    }
}

/// The time zone form on My account.
#[derive(Deserialize)]
pub struct ZoneForm {
    #[serde(default)]
    time_zone: String,
}

/// Keeps the time zone the signed-in person chose.
pub async fn choose(
    me: SignedIn,
    ReaderZone(zone): ReaderZone,
    State(state): State<AppState>,
    Checked(Form(form)): Checked<Form<ZoneForm>>,
) -> Result<Response, PageError> {
    match state.directory.set_time_zone(&me.actor, &form.time_zone).await {
        Ok(_) => Ok(Redirect::to("/account?changed=time-zone").into_response()),
        Err(DomainError::Invalid(errors)) => {
            let page = account::page(&me, &state, &zone, None, &form.time_zone, &errors).await?;
            Ok(crate::error::render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(e.into()),
    }
}
