//! The URL map of the whole server.

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue};
use axum::routing::{any, get, post};
use axum::{middleware, Router};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    access_pass as graph_access_pass, graph, groups as graph_groups, methods, oauth, oidc, openapi,
    passkeys as graph_passkeys, scim,
};
use crate::ui::{
    access_pass, account, account_state, apps, audit, authorize, bulk, confirm, contact, end_session, groups, home,
    import, my_groups, new_user, outbox, passkeys, readiness, reset, reset_password, roles, second_step, security_info,
    sessions, settings, signin, signin_log, time_zone, username, users, verification,
};
use crate::{health, metrics, security, AppState};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// All routes, with security headers, request ids and tracing.
pub fn router(state: AppState) -> Router {
    let (graph_routes, spec) = graph_api();
    let spec = std::sync::Arc::new(spec.to_pretty_json().unwrap_or_default());
    Router::new()
        .merge(graph_routes)
        .route("/openapi.json", get(move || openapi_json(spec.clone())))
        .route("/", get(signin::home))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(metrics::render))
        .route("/static/roster.css", get(|| static_file("text/css", include_str!("../static/roster.css"))))
        .route("/static/roster.js", get(|| static_file("text/javascript", include_str!("../static/roster.js"))))
        .route("/signin", get(signin::show).post(signin::submit))
        .route("/signin/verify", get(second_step::show))
        .route("/signin/verify/send", post(second_step::send))
        .route("/signin/verify/app", post(second_step::app))
        .route("/signin/verify/code", post(second_step::code))
        .route("/signin/verify/recovery", post(second_step::recovery))
        .route("/signin/verify/enrol", post(second_step::enrol))
        .route("/signin/verify/enrol/passkey/options", post(passkeys::enrolment_options))
        .route("/signin/verify/enrol/passkey", post(passkeys::enrol))
        .route("/signin/verify/passkey/options", post(passkeys::second_step_options))
        .route("/signin/verify/passkey", post(passkeys::second_step))
        .route("/signin/passkey/options", post(passkeys::sign_in_options))
        .route("/signin/passkey", post(passkeys::sign_in))
        .route("/signout", post(signin::sign_out))
        .route("/apps", get(account::apps))
        .route("/apps/{id}/logo", get(account::logo))
        .route("/account", get(account::show))
        .route("/account/groups", get(my_groups::list))
        .route("/account/apps", get(account::signed_in_apps))
        .route("/account/apps/{id}/revoke", post(account::revoke_app))
        .route("/account/groups/{id}", get(my_groups::show))
        .route("/account/groups/{id}/members", post(my_groups::change_members))
        .route("/account/password", get(account::show_password).post(account::change_password))
        .route("/account/time-zone", post(time_zone::choose))
        .route("/account/security", get(security_info::show))
        .route("/account/security/send", post(security_info::send))
        .route("/account/security/verify", post(security_info::verify))
        .route("/account/security/contact", post(security_info::change_contact))
        .route("/account/security/app", get(security_info::show_app_setup).post(security_info::confirm_app))
        .route("/account/security/app/remove", post(security_info::remove_app))
        .route("/account/security/passkeys/options", post(passkeys::registration_options))
        .route("/account/security/passkeys", post(passkeys::register))
        .route("/account/security/passkeys/{id}/remove", post(passkeys::remove_own))
        .route("/account/security/recovery-codes", post(security_info::new_recovery_codes))
        .route("/account/security/second-step", post(security_info::choose_second_step))
        .route("/account/reauth", get(security_info::show_reauth).post(security_info::reauth))
        .route("/reset", get(reset::start).post(reset::begin))
        .route("/reset/verify", get(reset::show))
        .route("/reset/send", post(reset::send))
        .route("/reset/code", post(reset::enter_code))
        .route("/reset/other", post(reset::other_method))
        .route("/reset/password", post(reset::finish))
        .route("/admin", get(home::show))
        .route("/admin/reset-password", get(home::reset_password))
        .route("/admin/users", get(users::list))
        .route("/admin/users/columns", post(users::choose_columns))
        .route("/admin/users/bulk", post(bulk::confirm))
        .route("/admin/users/bulk/apply", post(bulk::apply))
        .route("/admin/users/new", get(new_user::show_new).post(new_user::create))
        .route("/admin/users/{id}/added", get(new_user::added))
        .route(
            "/admin/users/import",
            get(import::show).post(import::upload).layer(DefaultBodyLimit::max(import::MAX_UPLOAD_BYTES)),
        )
        .route("/admin/users/import/{job}", get(import::job))
        .route("/admin/users/import/{job}/apply", post(import::apply))
        .route("/admin/users/export", get(import::export))
        .route("/admin/users/import-template", get(import::template))
        .route("/admin/users/{id}", get(users::details))
        .route("/admin/users/{id}/contact", get(contact::show).post(contact::save))
        .route("/admin/users/{id}/roles", get(roles::show_roles).post(roles::save_roles))
        .route("/admin/users/{id}/username", get(username::show).post(username::save))
        .route("/admin/users/{id}/state", post(account_state::change_state))
        .route("/admin/users/{id}/confirm/{action}", get(confirm::show))
        .route("/admin/users/{id}/password", get(reset_password::show_reset).post(reset_password::reset))
        .route("/admin/users/{id}/password/done", get(reset_password::done))
        .route("/admin/users/{id}/sessions", post(sessions::sign_out_everywhere))
        .route("/admin/users/{id}/access-pass", get(access_pass::show_new).post(access_pass::create))
        .route("/admin/users/{id}/access-pass/done", get(access_pass::done))
        .route("/admin/users/{id}/access-pass/remove", post(access_pass::remove))
        .route("/admin/users/{id}/passkeys/{passkey}/remove", get(passkeys::confirm_remove).post(passkeys::remove))
        .route("/admin/users/{id}/verify", post(verification::send_verification))
        .route("/admin/users/{id}/groups", post(groups::change_user_groups))
        .route("/admin/deleted-users", get(users::deleted))
        .route("/admin/groups", get(groups::list))
        .route("/admin/groups/new", get(groups::show_new).post(groups::create))
        .route("/admin/groups/{id}", get(groups::details).post(groups::save))
        .route("/admin/groups/{id}/members", post(groups::change_members))
        .route("/admin/groups/{id}/owners", post(groups::change_owners))
        .route("/admin/groups/{id}/state", post(groups::change_state))
        .route("/admin/deleted-groups", get(groups::deleted))
        .route("/admin/audit", get(audit::list))
        .route("/admin/audit/export", get(audit::export))
        .route("/admin/sign-ins", get(signin_log::list))
        .route("/admin/reports/readiness", get(readiness::show))
        .route("/admin/reports/readiness/ask", post(readiness::ask))
        .route("/admin/reports/readiness/export", get(readiness::export))
        .route("/admin/outbox", get(outbox::list))
        .route("/admin/apps", get(apps::list).post(apps::register))
        .route("/admin/apps/{id}", get(apps::show))
        .route("/admin/apps/{id}/permissions", post(apps::save_permissions))
        .route("/admin/apps/{id}/sign-in", post(apps::save_sign_in))
        .route("/admin/apps/{id}/logo", post(apps::upload_logo))
        .route("/admin/apps/{id}/logo/remove", post(apps::remove_logo))
        .route("/admin/apps/{id}/assignments", post(apps::assign))
        .route("/admin/apps/{id}/assignments/{member}/remove", post(apps::unassign))
        .route("/admin/apps/{id}/secrets", post(apps::add_secret))
        .route("/admin/apps/{id}/secrets/{secret}/remove", post(apps::remove_secret))
        .route("/admin/apps/{id}/remove", post(apps::remove))
        .route("/oauth2/v2.0/token", post(oauth::token))
        .route(oidc::AUTHORIZE_PATH, get(authorize::get).post(authorize::post))
        .route("/oauth2/v2.0/authorize/consent", post(authorize::consent))
        .route("/oauth2/v2.0/logout", get(end_session::get).post(end_session::post))
        .route("/oauth2/v2.0/logout/confirm", post(end_session::confirm))
        .route("/oauth2/v2.0/revoke", post(oauth::revoke))
        .route("/oauth2/v2.0/introspect", post(oauth::introspect))
        .route("/.well-known/openid-configuration", get(oidc::discovery))
        .route("/discovery/v2.0/keys", get(oidc::jwks))
        .route("/oidc/userinfo", get(oidc::userinfo_get).post(oidc::userinfo_post))
        .route("/{tenant}/oauth2/v2.0/token", post(oauth::tenant_token))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(oidc::tenant_discovery))
        .route("/scim/v2/ServiceProviderConfig", get(scim::service_provider_config))
        .route("/scim/v2/ResourceTypes", get(scim::resource_types))
        .route("/scim/v2/ResourceTypes/{name}", get(scim::resource_type))
        .route("/scim/v2/Schemas", get(scim::schemas))
        .route("/scim/v2/Schemas/{id}", get(scim::schema))
        .route("/scim/v2/Users", get(scim::list).post(scim::create))
        .route("/scim/v2/Users/.search", post(scim::search))
        .route("/scim/v2/.search", post(scim::search_everything))
        .route("/scim/v2/Groups", get(scim::groups::list).post(scim::groups::create))
        .route("/scim/v2/{*rest}", any(scim::unknown_endpoint))
        .route(
            "/scim/v2/Groups/{id}",
            get(scim::groups::get).put(scim::groups::replace).patch(scim::groups::patch).delete(scim::groups::delete),
        )
        .route("/scim/v2/Users/{id}", get(scim::get).put(scim::replace).patch(scim::patch).delete(scim::delete))
        .route("/admin/settings", get(settings::show).post(settings::save))
        .route("/admin/settings/reset-policy", post(settings::save_policy))
        .route("/admin/settings/mfa", post(settings::save_mfa))
        .route("/admin/settings/reset-scope", post(settings::save_reset_scope))
        .route("/admin/settings/audit", post(settings::save_retention))
        .route("/admin/settings/access-pass", post(settings::save_access_pass))
        .route("/admin/settings/passkeys", post(settings::save_passkeys))
        .route_layer(middleware::from_fn(metrics::track))
        .fallback(crate::error::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), security::headers))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// The Graph-compatible routes with the OpenAPI document describing exactly them.
pub fn graph_api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(openapi::GraphApi::openapi())
        .routes(routes!(graph::list, graph::create))
        .routes(routes!(graph::get, graph::update, graph::delete))
        .routes(routes!(methods::list))
        .routes(routes!(methods::list_phones, methods::add_phone))
        .routes(routes!(methods::get_phone, methods::update_phone, methods::delete_phone))
        .routes(routes!(methods::list_emails, methods::add_email))
        .routes(routes!(methods::get_email, methods::update_email, methods::delete_email))
        .routes(routes!(methods::list_software_oath))
        .routes(routes!(methods::get_software_oath, methods::delete_software_oath))
        .routes(routes!(graph_access_pass::list, graph_access_pass::create))
        .routes(routes!(graph_access_pass::get, graph_access_pass::delete))
        .routes(routes!(graph_passkeys::list))
        .routes(routes!(graph_passkeys::get, graph_passkeys::delete))
        .routes(routes!(graph_groups::list, graph_groups::create))
        .routes(routes!(graph_groups::get, graph_groups::update, graph_groups::delete))
        .routes(routes!(graph_groups::members))
        .routes(routes!(graph_groups::transitive_members))
        .routes(routes!(graph_groups::add_member))
        .routes(routes!(graph_groups::remove_member))
        .routes(routes!(graph_groups::owners))
        .routes(routes!(graph_groups::add_owner))
        .routes(routes!(graph_groups::remove_owner))
        .routes(routes!(graph_groups::user_member_of))
        .routes(routes!(graph_groups::user_transitive_member_of))
        .route_layer(middleware::from_fn(graph::stamp))
        .split_for_parts()
}

async fn openapi_json(spec: std::sync::Arc<String>) -> impl axum::response::IntoResponse {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], (*spec).clone())
}

async fn static_file(content_type: &'static str, body: &'static str) -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        body,
    )
}
