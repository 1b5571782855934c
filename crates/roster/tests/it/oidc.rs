//! Signing in to applications through Roster (OpenID Connect): the authorization code flow
//! with PKCE, the tokens it gives and how they end, driven as a browser and an application
//! would, over HTTP.

use std::collections::HashMap;

use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::signature::{
    RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::{Client, StatusCode};
use roster_domain::directory::{AppInput, NewGroup, SignInInput};
use roster_domain::group::GroupInput;
use roster_domain::signin_log::SignInQuery;
use roster_domain::{Actor, Role};
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::harness::{csrf_of, location, next_of, Session, TestApp, PASSWORD};

const CALLBACK: &str = "https://app.example.com/callback";
const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more-0123456789";

struct Registered {
    id: String,
    secret: Option<String>,
}

/// Registers "Timesheets", consented for the organisation so that no one is asked.
async fn register(app: &TestApp, public: bool, alg: &str) -> Registered {
    register_with(app, public, alg, true, false).await
}

async fn register_with(app: &TestApp, public: bool, alg: &str, admin_consent: bool, assignment: bool) -> Registered {
    let input = AppInput {
        name: "Timesheets".into(),
        sign_in: SignInInput {
            redirect_uris: vec![CALLBACK.into(), "http://127.0.0.1/native".into()],
            public_client: public,
            id_token_alg: alg.into(),
            home_page_url: "https://app.example.com/".into(),
            assignment_required: assignment,
            admin_consent,
            ..SignInInput::default()
        },
        ..AppInput::default()
    };
    let (registered, secret) = app.directory.register_app(&Actor::system("test"), &input).await.unwrap();
    let secret = secret.map(|(_, plain)| plain);
    Registered { id: registered.id.to_string(), secret: secret.map(|s| s.expose_secret().to_string()) }
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()))
}

fn authorize_path(client: &Registered, extra: &[(&str, &str)]) -> String {
    let code_challenge = challenge(VERIFIER);
    let mut pairs = vec![
        ("client_id", client.id.as_str()),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        ("scope", "openid profile email offline_access"),
        ("state", "st-1"),
        ("nonce", "nonce-1"),
        ("code_challenge", code_challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        pairs.retain(|(name, _)| name != k);
        if !v.is_empty() {
            pairs.push((k, v));
        }
    }
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("/oauth2/v2.0/authorize?{query}")
}

fn query_of(location: &str) -> HashMap<String, String> {
    url::Url::parse(location).unwrap().query_pairs().into_owned().collect()
}

/// Follows the sign-in page the authorize endpoint sends a signed-out browser to, signs in, and
/// returns where the browser lands in the end (the application's redirect URI).
async fn sign_in_through(s: &Session, path: &str, username: &str) -> String {
    let r = s.get(path).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to_signin = location(&r);
    assert!(to_signin.starts_with("/signin?next="), "{to_signin}");
    let next = next_of(&to_signin);
    let (_, html) = s.page(&to_signin).await;
    let form = [("username", username), ("password", PASSWORD), ("csrf", &csrf_of(&html)), ("next", next.as_str())];
    let r = s.post("/signin", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), next);
    let r = s.get(&next).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    location(&r)
}

async fn token(app: &TestApp, client: &Registered, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = Client::new().post(format!("{}/oauth2/v2.0/token", app.base));
    let mut form: Vec<(&str, &str)> = form.to_vec();
    match &client.secret {
        Some(secret) => request = request.basic_auth(&client.id, Some(secret)),
        None => form.push(("client_id", &client.id)),
    }
    let r = request.form(&form).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn redeem(app: &TestApp, client: &Registered, code: &str) -> (StatusCode, Value) {
    let form =
        [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CALLBACK), ("code_verifier", VERIFIER)];
    token(app, client, &form).await
}

async fn refresh(app: &TestApp, client: &Registered, refresh_token: &str) -> (StatusCode, Value) {
    token(app, client, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
}

async fn userinfo(app: &TestApp, access_token: &str) -> (StatusCode, Value) {
    let r = Client::new().get(format!("{}/oidc/userinfo", app.base)).bearer_auth(access_token).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Checks an ID token's signature against the provider's published keys alone, as a client
/// does, and returns its claims.
async fn verified_claims(app: &TestApp, id_token: &str) -> Value {
    let jwks: Value = reqwest::get(format!("{}/discovery/v2.0/keys", app.base)).await.unwrap().json().await.unwrap();
    let part = |p: &str| URL_SAFE_NO_PAD.decode(p).unwrap();
    let (signed, signature) = id_token.rsplit_once('.').unwrap();
    let (header, claims) = signed.split_once('.').unwrap();
    let header: Value = serde_json::from_slice(&part(header)).unwrap();
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).expect("key published");
    let field = |name: &str| part(key[name].as_str().unwrap());
    match header["alg"].as_str().unwrap() {
        "RS256" => RsaPublicKeyComponents { n: field("n"), e: field("e") }
            .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &part(signature))
            .expect("RS256 signature"),
        "ES256" => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, [vec![4], field("x"), field("y")].concat())
            .verify(signed.as_bytes(), &part(signature))
            .expect("ES256 signature"),
        other => panic!("unexpected alg {other}"),
    }
    serde_json::from_slice(&part(claims)).unwrap()
}

#[tokio::test]
async fn discovery_names_every_endpoint_under_the_public_url_and_the_keys_are_public_halves() {
    let Some(app) = TestApp::start().await else { return };
    let doc: Value =
        reqwest::get(format!("{}/.well-known/openid-configuration", app.base)).await.unwrap().json().await.unwrap();
    assert_eq!(doc["issuer"], app.base.as_str());
    for (name, path) in [
        ("authorization_endpoint", "/oauth2/v2.0/authorize"),
        ("token_endpoint", "/oauth2/v2.0/token"),
        ("userinfo_endpoint", "/oidc/userinfo"),
        ("jwks_uri", "/discovery/v2.0/keys"),
    ] {
        assert_eq!(doc[name], format!("{}{path}", app.base), "{name}");
    }
    assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(doc["request_parameter_supported"], false);
    let url = format!("{}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration", app.base);
    let for_tenant: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    assert_eq!(for_tenant, doc, "a tenant's path has the same document");
    let jwks: Value = reqwest::get(format!("{}/discovery/v2.0/keys", app.base)).await.unwrap().json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert_eq!(algs.len(), 3, "{algs:?}");
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(algs.contains(&alg), "{alg} missing from {algs:?}");
    }
    assert!(keys.iter().all(|k| k.get("d").is_none() && k["use"] == "sig"));
    let again: Value = reqwest::get(format!("{}/discovery/v2.0/keys", app.base)).await.unwrap().json().await.unwrap();
    assert_eq!(again, jwks, "keys are made once and kept");
}

#[tokio::test]
async fn a_confidential_client_signs_a_user_in_with_pkce_and_refreshes_by_rotation() {
    let Some(app) = TestApp::start().await else { return };
    let user = app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    let client = register(&app, false, "RS256").await;
    let s = app.client();
    let landed = sign_in_through(&s, &authorize_path(&client, &[]), "ada@contoso.com").await;
    assert!(landed.starts_with(CALLBACK), "{landed}");
    let q = query_of(&landed);
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], app.base);

    let (status, tokens) = redeem(&app, &client, &q["code"]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid profile email offline_access");
    let claims = verified_claims(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["aud"], client.id.as_str());
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["nonce"], "nonce-1");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["email"], "ada@contoso.com");
    assert_eq!(claims["name"], "Ada Lovelace");

    let (status, info) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (info["sub"].as_str(), info["preferred_username"].as_str()),
        (Some(&*user.id.to_string()), Some("ada@contoso.com"))
    );

    // A second use of the code fails, and ends what the first use gave.
    let (status, again) = redeem(&app, &client, &q["code"]).await;
    assert_eq!((status, again["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A fresh sign-in: each refresh gives a new refresh token; reusing an old one ends them all.
    let landed = s.get(&authorize_path(&client, &[])).await;
    let (_, tokens) = redeem(&app, &client, &query_of(&location(&landed))["code"]).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_string();
    let (status, rotated) = refresh(&app, &client, &first).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let second = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    let claims = verified_claims(&app, rotated["id_token"].as_str().unwrap()).await;
    assert!(claims.get("nonce").is_none(), "a refreshed ID token carries no nonce");
    let (status, narrowed) =
        token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", &second), ("scope", "openid phone")])
            .await;
    assert_eq!((status, narrowed["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")));
    let (status, narrowed) =
        token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", &second), ("scope", "email openid")])
            .await;
    assert_eq!((status, narrowed["scope"].as_str()), (StatusCode::OK, Some("openid email")), "{narrowed}");
    let claims = verified_claims(&app, narrowed["id_token"].as_str().unwrap()).await;
    assert!(claims.get("name").is_none(), "no profile claims without the profile scope");
    let third = narrowed["refresh_token"].as_str().unwrap().to_string();
    let (status, again) = refresh(&app, &client, &third).await;
    assert_eq!((status, again["scope"].as_str()), (StatusCode::OK, Some("openid profile email offline_access")));
    let fourth = again["refresh_token"].as_str().unwrap().to_string();
    let (status, replay) = refresh(&app, &client, &first).await;
    assert_eq!((status, replay["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (status, _) = refresh(&app, &client, &fourth).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the replay ended the whole chain");
    let (status, _) = userinfo(&app, rotated["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let wrong = Registered { id: client.id.clone(), secret: Some("not-the-secret".into()) };
    let (status, body) = refresh(&app, &wrong, &fourth).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
}

#[tokio::test]
async fn requests_that_cannot_be_trusted_are_shown_and_others_answered_with_errors() {
    let Some(app) = TestApp::start().await else { return };
    app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    let client = register(&app, true, "ES256").await;
    let s = app.client();

    // An unregistered redirect URI is never followed.
    let (status, page) = s.page(&authorize_path(&client, &[("redirect_uri", "https://evil.example/cb")])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("is not a redirect URI of Timesheets"), "{page}");
    let (status, _) = s.page(&authorize_path(&client, &[("client_id", "00000000-0000-0000-0000-000000000000")])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Signed out, prompt=none answers at once.
    let r = s.get(&authorize_path(&client, &[("prompt", "none")])).await;
    let q = query_of(&location(&r));
    assert_eq!((q["error"].as_str(), q["state"].as_str()), ("login_required", "st-1"));

    // A public client must use PKCE, and authenticates with its id alone.
    let r = s.get(&authorize_path(&client, &[("code_challenge", ""), ("code_challenge_method", "")])).await;
    assert_eq!(query_of(&location(&r))["error"], "invalid_request");
    let landed = sign_in_through(&s, &authorize_path(&client, &[]), "ada@contoso.com").await;
    let code = query_of(&landed)["code"].clone();
    let with_secret = Registered { id: client.id.clone(), secret: Some("anything".into()) };
    let (status, _) = redeem(&app, &with_secret, &code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let bad_verifier = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", "another-verifier-of-forty-three-characters-0123456789"),
    ];
    let (status, body) = token(&app, &client, &bad_verifier).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    // Loopback redirect URIs match on any port; ES256 tokens verify against the JWKS.
    let path = authorize_path(&client, &[("redirect_uri", "http://127.0.0.1:53682/native")]);
    let r = s.get(&path).await;
    let landed = location(&r);
    assert!(landed.starts_with("http://127.0.0.1:53682/native?code="), "{landed}");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &query_of(&landed)["code"]),
        ("redirect_uri", "http://127.0.0.1:53682/native"),
        ("code_verifier", VERIFIER),
    ];
    let (status, tokens) = token(&app, &client, &form).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    verified_claims(&app, tokens["id_token"].as_str().unwrap()).await;

    // prompt=login and max_age=0 send a signed-in person back to the password.
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let r = s.get(&authorize_path(&client, &[extra])).await;
        assert!(location(&r).starts_with("/signin?next="), "{extra:?}");
    }
    let again = sign_in_through(&s, &authorize_path(&client, &[("prompt", "login")]), "ada@contoso.com").await;
    assert!(again.starts_with(CALLBACK) && query_of(&again).contains_key("code"), "{again}");
}

#[tokio::test]
async fn a_blocked_user_loses_their_application_sign_ins_at_once() {
    let Some(app) = TestApp::start().await else { return };
    let admin = app.user("admin@contoso.com", "Admin", &[Role::GlobalAdministrator]).await;
    let user = app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    let client = register(&app, false, "RS256").await;
    let s = app.client();
    let landed = sign_in_through(&s, &authorize_path(&client, &[]), "ada@contoso.com").await;
    let (_, tokens) = redeem(&app, &client, &query_of(&landed)["code"]).await;
    let actor = Actor::user(&admin, None, None);
    app.directory.set_enabled(&actor, user.id, false).await.unwrap();
    let (status, body) = refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let query = SignInQuery { limit: 10, ..SignInQuery::default() };
    let log = app.directory.sign_in_log(&Actor::system("test"), &query).await.unwrap();
    assert!(log.iter().any(|e| e.method == "Session, to Timesheets" && e.success), "{log:?}");
}

#[tokio::test]
async fn each_person_consents_once_can_withdraw_and_prompt_none_never_asks() {
    let Some(app) = TestApp::start().await else { return };
    app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    let client = register_with(&app, false, "RS256", false, false).await;
    let s = app.client();
    // The first sign-in stops at the consent page, which names what the application asks for.
    let r = s.get(&authorize_path(&client, &[])).await;
    let signin = location(&r);
    let next = next_of(&signin);
    let (_, html) = s.page(&signin).await;
    let form = [("username", "ada@contoso.com"), ("password", PASSWORD), ("csrf", &csrf_of(&html)), ("next", &next)];
    s.post("/signin", &form).await;
    let (status, consent) = s.page(&next).await;
    assert_eq!(status, StatusCode::OK);
    assert!(consent.contains("Timesheets") && consent.contains("See your email address"), "{consent}");
    let request = crate::harness::hidden_value(&consent, "request").replace("&#38;", "&");
    let csrf = csrf_of(&consent);

    // prompt=none may not ask: consent_required.
    let r = s.get(&authorize_path(&client, &[("prompt", "none")])).await;
    assert_eq!(query_of(&location(&r))["error"], "consent_required");

    // Cancel goes back to the application with access_denied; Accept with a code.
    let r = s
        .post("/oauth2/v2.0/authorize/consent", &[("csrf", &csrf), ("request", &request), ("decision", "cancel")])
        .await;
    assert_eq!(query_of(&location(&r))["error"], "access_denied");
    let r = s
        .post("/oauth2/v2.0/authorize/consent", &[("csrf", &csrf), ("request", &request), ("decision", "accept")])
        .await;
    let landed = location(&r);
    assert!(query_of(&landed).contains_key("code"), "{landed}");
    let (_, tokens) = redeem(&app, &client, &query_of(&landed)["code"]).await;

    // Asked once: the next sign-in goes straight through, prompt=none too; prompt=consent asks again.
    let r = s.get(&authorize_path(&client, &[("prompt", "none")])).await;
    assert!(query_of(&location(&r)).contains_key("code"));
    let (status, page) = s.page(&authorize_path(&client, &[("prompt", "consent")])).await;
    assert!(status == StatusCode::OK && page.contains("Permissions requested"));
    let forged = s
        .post("/oauth2/v2.0/authorize/consent", &[("csrf", "forged"), ("request", &request), ("decision", "accept")])
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // The account page lists the application; removing it ends its tokens and asks again.
    let (_, mine) = s.page("/account/apps").await;
    assert!(mine.contains("Timesheets") && mine.contains("See your email address"), "{mine}");
    let r = s.post(&format!("/account/apps/{}/revoke", client.id), &[("csrf", &s.csrf().await)]).await;
    assert_eq!(location(&r), "/account/apps?changed=1");
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, page) = s.page(&authorize_path(&client, &[])).await;
    assert!(status == StatusCode::OK && page.contains("Permissions requested"));
}

fn new_group(name: &str) -> NewGroup {
    NewGroup { input: GroupInput { display_name: name.into(), ..GroupInput::default() }, ..NewGroup::default() }
}

#[tokio::test]
async fn only_assigned_users_and_group_members_sign_in_and_my_apps_lists_what_they_may_open() {
    let Some(app) = TestApp::start().await else { return };
    let admin = app.user("admin@contoso.com", "Admin", &[Role::GlobalAdministrator]).await;
    let ada = app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    app.user("bob@contoso.com", "Bob", &[]).await;
    let client = register_with(&app, false, "RS256", true, true).await;
    let actor = Actor::user(&admin, None, None);
    let group = app.directory.create_group(&actor, new_group("Payroll")).await.unwrap();
    let outer = app.directory.create_group(&actor, new_group("Finance")).await.unwrap();
    app.directory.add_members(&actor, group.id, &[roster_domain::group::MemberId::User(ada.id)]).await.unwrap();
    app.directory.add_members(&actor, outer.id, &[roster_domain::group::MemberId::Group(group.id)]).await.unwrap();

    // Unassigned: refused at Roster, with a page that says so; My apps does not list it.
    let s = app.client();
    let r = s.get(&authorize_path(&client, &[])).await;
    let signin = location(&r);
    let next = next_of(&signin);
    let (_, html) = s.page(&signin).await;
    s.post(
        "/signin",
        &[("username", "ada@contoso.com"), ("password", PASSWORD), ("csrf", &csrf_of(&html)), ("next", &next)],
    )
    .await;
    let (status, page) = s.page(&next).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("assigned to Timesheets"), "{page}");
    let (_, apps) = s.page("/apps").await;
    assert!(!apps.contains("https://app.example.com/"), "{apps}");

    // Assigned through the outer group (nested two deep): in, and listed.
    let admin_session = app.signed_in("admin@contoso.com").await;
    let csrf = admin_session.csrf().await;
    let r = admin_session
        .post(&format!("/admin/apps/{}/assignments", client.id), &[("csrf", &csrf), ("assignee", "Finance")])
        .await;
    assert_eq!(location(&r), format!("/admin/apps/{}?done=assigned", client.id));
    let (status, unknown) = admin_session
        .submit(
            &format!("/admin/apps/{}/assignments", client.id),
            &[("csrf", &csrf), ("assignee", "nobody@contoso.com")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.contains("There is no user nobody@contoso.com"), "{unknown}");
    let r = s.get(&next).await;
    let landed = location(&r);
    assert!(query_of(&landed).contains_key("code"), "{landed}");
    let (_, tokens) = redeem(&app, &client, &query_of(&landed)["code"]).await;
    let (_, apps) = s.page("/apps").await;
    assert!(apps.contains("href=\"https://app.example.com/\""), "{apps}");
    assert!(
        apps.contains("<span class=\"app-name\">Timesheets</span><span class=\"app-host\">app.example.com</span>"),
        "{apps}"
    );

    // Bob, in no group, is still refused; taking the assignment away ends Ada's next refresh.
    let bob = app.client();
    let r = bob.get(&authorize_path(&client, &[])).await;
    let next_bob = next_of(&location(&r));
    let (_, html) = bob.page(&location(&r)).await;
    bob.post(
        "/signin",
        &[("username", "bob@contoso.com"), ("password", PASSWORD), ("csrf", &csrf_of(&html)), ("next", &next_bob)],
    )
    .await;
    assert_eq!(bob.get(&next_bob).await.status(), StatusCode::FORBIDDEN);
    app.directory.unassign_app(&actor, client.id.parse().unwrap(), outer.id.0).await.unwrap();
    let (status, body) = refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert!(body["error_description"].as_str().unwrap().contains("no longer assigned"), "{body}");
    // The refusal ended that sign-in: assigning the group again does not bring it back.
    app.directory.assign_app(&actor, client.id.parse().unwrap(), "Finance").await.unwrap();
    let (status, body) = refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert!(body["error_description"].as_str().unwrap().contains("not known, or was revoked"), "{body}");
}

#[tokio::test]
async fn revocation_introspection_and_sign_out_from_the_application() {
    let Some(app) = TestApp::start().await else { return };
    let ada = app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    let client = register(&app, false, "EdDSA").await;
    let (client_uuid, actor) = (client.id.parse().unwrap(), Actor::system("test"));
    let (registered, _) = app.directory.app(&actor, client_uuid).await.unwrap();
    let mut input = SignInInput {
        redirect_uris: registered.sign_in.redirect_uris.clone(),
        post_logout_redirect_uris: vec!["https://app.example.com/signed-out".into()],
        admin_consent: true,
        ..SignInInput::default()
    };
    input.id_token_alg = "EdDSA".into();
    app.directory.set_app_sign_in(&actor, client_uuid, &input).await.unwrap();
    let s = app.client();
    let landed = sign_in_through(&s, &authorize_path(&client, &[]), "ada@contoso.com").await;
    let (_, tokens) = redeem(&app, &client, &query_of(&landed)["code"]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    // Introspection: confidential clients only; an active token says whose it is.
    let introspect = |token: &str, secret: Option<&str>| {
        let mut request = Client::new().post(format!("{}/oauth2/v2.0/introspect", app.base));
        if let Some(secret) = secret {
            request = request.basic_auth(&client.id, Some(secret));
        }
        request.form(&[("token", token), ("client_id", client.id.as_str())]).send()
    };
    let answer: Value = introspect(access, client.secret.as_deref()).await.unwrap().json().await.unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["sub"], ada.id.to_string());
    assert_eq!(answer["username"], "ada@contoso.com");
    assert_eq!(answer["client_id"], client.id.as_str());
    assert_eq!(introspect(access, None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let answer: Value = introspect("made-up", client.secret.as_deref()).await.unwrap().json().await.unwrap();
    assert_eq!(answer, serde_json::json!({ "active": false }));

    // Revoking the refresh token ends its chain, access token included; unknown tokens answer 200 too.
    let revoke = |token: &str| {
        Client::new()
            .post(format!("{}/oauth2/v2.0/revoke", app.base))
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&[("token", token)])
            .send()
    };
    assert_eq!(revoke("made-up").await.unwrap().status(), StatusCode::OK);
    assert_eq!(revoke(refresh_token).await.unwrap().status(), StatusCode::OK);
    let answer: Value = introspect(access, client.secret.as_deref()).await.unwrap().json().await.unwrap();
    assert_eq!(answer["active"], false);
    let (status, _) = refresh(&app, &client, refresh_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Sign-out from the application: with its ID token as the hint, at once, back to its address.
    let landed = s.get(&authorize_path(&client, &[])).await;
    let (_, tokens) = redeem(&app, &client, &query_of(&location(&landed))["code"]).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let (status, _) =
        s.page(&format!("/oauth2/v2.0/logout?post_logout_redirect_uri={}", "https://evil.example/")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, confirm) = s.page(&format!("/oauth2/v2.0/logout?client_id={}", client.id)).await;
    assert!(status == StatusCode::OK && confirm.contains("Sign out of Roster?"), "without a hint, the person is asked");
    let path = format!(
        "/oauth2/v2.0/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye",
        url::form_urlencoded::byte_serialize(b"https://app.example.com/signed-out").collect::<String>()
    );
    let r = s.get(&path).await;
    assert_eq!(location(&r), "https://app.example.com/signed-out?state=bye");
    let r = s.get("/account").await;
    assert!(location(&r).starts_with("/signin"), "the Roster session ended");
    let (status, _) = s.page(&format!("/oauth2/v2.0/logout?id_token_hint={}x", id_token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a hint Roster did not sign is refused");
}

#[tokio::test]
async fn a_rotated_key_is_published_before_it_signs_and_an_immediate_rotation_signs_at_once() {
    let Some(app) = TestApp::start().await else { return };
    app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    let client = register(&app, false, "ES256").await;
    let actor = Actor::system("test");
    let kids = || async {
        let jwks: Value =
            reqwest::get(format!("{}/discovery/v2.0/keys", app.base)).await.unwrap().json().await.unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["alg"] == "ES256")
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let before = kids().await;
    assert_eq!(before.len(), 1);
    let rotated = app.directory.rotate_signing_keys(&actor, &["ES256".parse().unwrap()], false).await.unwrap();
    let new_kid = rotated[0].kid.clone();
    assert_eq!(kids().await, vec![new_kid.clone(), before[0].clone()], "both published");
    let s = app.client();
    let landed = sign_in_through(&s, &authorize_path(&client, &[]), "ada@contoso.com").await;
    let (_, tokens) = redeem(&app, &client, &query_of(&landed)["code"]).await;
    let header = |token: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
    };
    assert_eq!(header(tokens["id_token"].as_str().unwrap())["kid"], before[0].as_str(), "the old key signs for a day");

    let now = app.directory.rotate_signing_keys(&actor, &["ES256".parse().unwrap()], true).await.unwrap();
    assert_eq!(kids().await, vec![now[0].kid.clone()], "the old keys are withdrawn at once");
    let landed = s.get(&authorize_path(&client, &[])).await;
    let (_, tokens) = redeem(&app, &client, &query_of(&location(&landed))["code"]).await;
    assert_eq!(header(tokens["id_token"].as_str().unwrap())["kid"], now[0].kid.as_str());
    verified_claims(&app, tokens["id_token"].as_str().unwrap()).await;
}

#[tokio::test]
async fn the_groups_claim_lists_nested_groups_by_name_or_by_id_as_the_application_chooses() {
    let Some(app) = TestApp::start().await else { return };
    let admin = app.user("admin@contoso.com", "Admin", &[Role::GlobalAdministrator]).await;
    let ada = app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    let actor = Actor::user(&admin, None, None);
    let payroll = app.directory.create_group(&actor, new_group("Payroll")).await.unwrap();
    let finance = app.directory.create_group(&actor, new_group("Finance")).await.unwrap();
    app.directory.create_group(&actor, new_group("Unrelated")).await.unwrap();
    app.directory.add_members(&actor, payroll.id, &[roster_domain::group::MemberId::User(ada.id)]).await.unwrap();
    app.directory.add_members(&actor, finance.id, &[roster_domain::group::MemberId::Group(payroll.id)]).await.unwrap();
    let input = AppInput {
        name: "Wiki".into(),
        sign_in: SignInInput {
            redirect_uris: vec![CALLBACK.into()],
            admin_consent: true,
            groups_claim: "names".into(),
            ..SignInInput::default()
        },
        ..AppInput::default()
    };
    let (registered, secret) = app.directory.register_app(&actor, &input).await.unwrap();
    let secret = secret.map(|(_, plain)| plain);
    let client = Registered { id: registered.id.to_string(), secret: secret.map(|s| s.expose_secret().to_string()) };

    let s = app.client();
    let landed = sign_in_through(&s, &authorize_path(&client, &[]), "ada@contoso.com").await;
    let (status, tokens) = redeem(&app, &client, &query_of(&landed)["code"]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = verified_claims(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["groups"], serde_json::json!(["Finance", "Payroll"]));
    let (_, info) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["groups"], serde_json::json!(["Finance", "Payroll"]));

    // The administrator switches the claim to ids on the application's page: the next refresh
    // carries ids, which survive a rename.
    let admin_session = app.signed_in("admin@contoso.com").await;
    let csrf = admin_session.csrf().await;
    let (_, page) = admin_session.page(&format!("/admin/apps/{}", client.id)).await;
    assert!(page.contains("id=\"groups-claim-names\" name=\"groups_claim\" value=\"names\" checked"), "{page}");
    let form = [
        ("csrf", csrf.as_str()),
        ("redirect_uris", CALLBACK),
        ("client_type", "confidential"),
        ("id_token_alg", "RS256"),
        ("admin_consent", "on"),
        ("groups_claim", "ids"),
    ];
    let r = admin_session.post(&format!("/admin/apps/{}/sign-in", client.id), &form).await;
    assert_eq!(location(&r), format!("/admin/apps/{}?done=sign-in", client.id));
    let (_, refreshed) = refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    let claims = verified_claims(&app, refreshed["id_token"].as_str().unwrap()).await;
    let mut ids = vec![finance.id.to_string(), payroll.id.to_string()];
    ids.sort();
    assert_eq!(claims["groups"], serde_json::json!(ids));
    let (status, page) = admin_session
        .submit(
            &format!("/admin/apps/{}/sign-in", client.id),
            &[("csrf", csrf.as_str()), ("redirect_uris", CALLBACK), ("groups_claim", "everything")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("everything is not a groups claim"), "{page}");
}

/// A P-256 key pair for an application, and its public half as a JWK.
fn client_key() -> (aws_lc_rs::signature::EcdsaKeyPair, Value) {
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "kid": "app-key-1", "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    (pair, jwk)
}

/// A client assertion (RFC 7523) that `client_id` signs with `pair` for `aud`.
fn assertion(pair: &aws_lc_rs::signature::EcdsaKeyPair, client_id: &str, aud: &str, jti: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let header =
        URL_SAFE_NO_PAD.encode(serde_json::json!({ "alg": "ES256", "kid": "app-key-1", "typ": "JWT" }).to_string());
    let claims =
        serde_json::json!({ "iss": client_id, "sub": client_id, "aud": aud, "jti": jti, "iat": now, "exp": now + 300 });
    let signed = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = pair.sign(&aws_lc_rs::rand::SystemRandom::new(), signed.as_bytes()).unwrap();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

#[tokio::test]
async fn a_client_proves_itself_with_a_signed_assertion_used_once_and_never_with_a_secret() {
    let Some(app) = TestApp::start().await else { return };
    app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    let (pair, jwk) = client_key();
    let input = AppInput {
        name: "Payroll".into(),
        sign_in: SignInInput {
            redirect_uris: vec![CALLBACK.into()],
            admin_consent: true,
            jwks: serde_json::json!({ "keys": [jwk] }).to_string(),
            ..SignInInput::default()
        },
        ..AppInput::default()
    };
    let (registered, secret) = app.directory.register_app(&Actor::system("test"), &input).await.unwrap();
    assert!(secret.is_none(), "a client with keys gets no secret");
    let client = Registered { id: registered.id.to_string(), secret: None };
    let doc: Value =
        reqwest::get(format!("{}/.well-known/openid-configuration", app.base)).await.unwrap().json().await.unwrap();
    let token_url = doc["token_endpoint"].as_str().unwrap().to_string();
    assert!(doc["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&"private_key_jwt".into()));

    let s = app.client();
    let landed = sign_in_through(&s, &authorize_path(&client, &[]), "ada@contoso.com").await;
    let code = query_of(&landed)["code"].clone();
    let post = |form: Vec<(&'static str, String)>| {
        let url = token_url.clone();
        async move {
            let r = Client::new().post(url).form(&form).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let signed = assertion(&pair, &client.id, &token_url, "jti-1");
    let redeem_with = |assertion: String| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.clone()),
            ("redirect_uri", CALLBACK.to_string()),
            ("code_verifier", VERIFIER.to_string()),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string()),
            ("client_assertion", assertion),
        ]
    };

    // Addressed elsewhere, or signed by another key: refused, saying why; the code is not spent.
    let (status, body) =
        post(redeem_with(assertion(&pair, &client.id, "https://elsewhere.example.com/token", "jti-0"))).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("aud"), "{body}");
    let (stranger, _) = client_key();
    let (status, body) = post(redeem_with(assertion(&stranger, &client.id, &token_url, "jti-x"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // The right assertion, without client_id (the assertion names the client): tokens.
    let (status, tokens) = post(redeem_with(signed.clone())).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["id_token"].is_string());

    // The same assertion again: refused, whatever it is for.
    let refresh_with = |assertion: String| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap_or_default().to_string()),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string()),
            ("client_assertion", assertion),
            ("client_id", client.id.clone()),
        ]
    };
    let (status, body) = post(refresh_with(signed)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("used already"), "{body}");
    let (status, body) = post(refresh_with(assertion(&pair, &client.id, &app.base, "jti-2"))).await;
    assert_eq!(status, StatusCode::OK, "the issuer is an audience too: {body}");

    // A secret, even a made-up one, is no way in for this client.
    let (status, body) = token(
        &app,
        &Registered { id: client.id.clone(), secret: Some("guess".into()) },
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("private_key_jwt"), "{body}");

    // The key set is checked when registered: a private half is refused, naming the field.
    let admin = app.user("admin@contoso.com", "Admin", &[Role::GlobalAdministrator]).await;
    let admin_session = app.signed_in(admin.username.as_str()).await;
    let csrf = admin_session.csrf().await;
    let (_, page) = admin_session.page(&format!("/admin/apps/{}", client.id)).await;
    assert!(page.contains("app-key-1"), "the registered keys are shown");
    let mut private = jwk_with_private_half();
    private["kid"] = "leaked".into();
    let keys = serde_json::json!({ "keys": [private] }).to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("redirect_uris", CALLBACK),
        ("client_type", "confidential"),
        ("jwks", keys.as_str()),
    ];
    let (status, page) = admin_session.submit(&format!("/admin/apps/{}/sign-in", client.id), &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("holds a private key"), "{page}");
}

#[tokio::test]
async fn an_application_with_keys_gets_api_tokens_by_assertion_until_its_keys_change() {
    let Some(app) = TestApp::start().await else { return };
    let (pair, jwk) = client_key();
    let sign_in = |jwk: &Value| SignInInput {
        redirect_uris: vec![CALLBACK.into()],
        jwks: serde_json::json!({ "keys": [jwk] }).to_string(),
        ..SignInInput::default()
    };
    let input =
        AppInput { name: "Provisioner".into(), permissions: vec!["User.Read.All".into()], sign_in: sign_in(&jwk) };
    let (registered, _) = app.directory.register_app(&Actor::system("test"), &input).await.unwrap();
    let client_id = registered.id.to_string();
    let token_url = format!("{}/oauth2/v2.0/token", app.base);
    let ask = |assertion: String| {
        let url = token_url.clone();
        async move {
            let form = [
                ("grant_type", "client_credentials"),
                ("scope", "https://graph.microsoft.com/.default"),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion.as_str()),
            ];
            let r = Client::new().post(url).form(&form).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let users = |token: String| {
        let url = format!("{}/v1.0/users", app.base);
        async move { Client::new().get(url).bearer_auth(token).send().await.unwrap().status() }
    };

    let signed = assertion(&pair, &client_id, &token_url, "cc-1");
    let (status, body) = ask(signed.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(users(access.clone()).await, StatusCode::OK, "the token carries the registration's permissions");

    let (status, body) = ask(signed).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("used already"), "{body}");
    let (stranger, _) = client_key();
    let (status, body) = ask(assertion(&stranger, &client_id, &token_url, "cc-2")).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{body}");

    // New keys, as after a leak: tokens the old keys got stop working, the new key gets new ones.
    let (new_pair, mut new_jwk) = client_key();
    new_jwk["kid"] = "app-key-1".into();
    app.directory.set_app_sign_in(&Actor::system("test"), registered.id, &sign_in(&new_jwk)).await.unwrap();
    assert_eq!(users(access).await, StatusCode::UNAUTHORIZED, "replacing the keys ends their tokens");
    let (status, body) = ask(assertion(&pair, &client_id, &token_url, "cc-3")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old key is no longer accepted: {body}");
    let (status, body) = ask(assertion(&new_pair, &client_id, &token_url, "cc-4")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A public client holds nothing to prove itself with, so it gets no API token.
    let public = register(&app, true, "RS256").await;
    let form = [("grant_type", "client_credentials"), ("client_id", public.id.as_str())];
    let r = Client::new().post(&token_url).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unauthorized_client");
}

fn jwk_with_private_half() -> Value {
    let (_, mut jwk) = client_key();
    jwk["d"] = "c2VjcmV0".into();
    jwk
}

/// The OpenID Foundation's Basic OP plan asks for these, each expecting a code back: parameters
/// Roster does not act on are accepted and ignored, not refused.
#[tokio::test]
async fn the_basic_op_plans_other_requests_succeed_and_max_age_one_asks_again() {
    let Some(app) = TestApp::start().await else { return };
    app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    let client = register(&app, false, "RS256").await;
    let s = app.client();
    let first = sign_in_through(&s, &authorize_path(&client, &[]), "ada@contoso.com").await;
    // client_secret_post: the secret in the form rather than by HTTP Basic.
    let code = query_of(&first)["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
        ("client_id", client.id.as_str()),
        ("client_secret", client.secret.as_deref().unwrap()),
    ];
    let r = Client::new().post(format!("{}/oauth2/v2.0/token", app.base)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let tokens: Value = r.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap().to_string();
    let cases: [&[(&str, &str)]; 13] = [
        &[("max_age", "10000")],
        &[("display", "page")],
        &[("display", "popup")],
        &[("ui_locales", "se")],
        &[("claims_locales", "se")],
        &[("acr_values", "1 2")],
        &[("unknown_parameter", "x")],
        &[("nonce", "")],
        &[("scope", "email openid profile")],
        &[("scope", "openid profile email phone address")],
        &[("claims", r#"{"userinfo":{"name":{"essential":true}}}"#)],
        &[("login_hint", "ada@contoso.com")],
        &[("prompt", "none"), ("id_token_hint", id_token.as_str())],
    ];
    for extra in cases {
        let landed = location(&s.get(&authorize_path(&client, extra)).await);
        assert!(landed.starts_with(CALLBACK) && query_of(&landed).contains_key("code"), "{extra:?}: {landed}");
    }
    // The authorization request by POST (OpenID Connect Core §3.1.2.1).
    let path = authorize_path(&client, &[]);
    let (_, query) = path.split_once('?').unwrap();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let form: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let landed = location(&s.post("/oauth2/v2.0/authorize", &form).await);
    assert!(query_of(&landed).contains_key("code"), "{landed}");
    // Userinfo with the token in the POST body.
    let r = Client::new()
        .post(format!("{}/oidc/userinfo", app.base))
        .form(&[("access_token", tokens["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // max_age=1, two seconds after the sign-in: the password again.
    app.execute_sql("update sessions set created_at = created_at - 2000").await;
    let r = s.get(&authorize_path(&client, &[("max_age", "1")])).await;
    assert!(location(&r).starts_with("/signin?next="), "{}", location(&r));
    let r = s.get(&authorize_path(&client, &[("max_age", "1"), ("prompt", "none")])).await;
    assert_eq!(query_of(&location(&r))["error"], "login_required");
}

#[tokio::test]
async fn an_application_gets_the_further_claims_it_maps_in_tokens_and_userinfo() {
    let Some(app) = TestApp::start().await else { return };
    let admin = app.user("admin@contoso.com", "Admin", &[Role::GlobalAdministrator]).await;
    let ada = app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    let actor = Actor::user(&admin, None, None);
    let contact = roster_domain::ContactInput {
        display_name: "Ada Lovelace".into(),
        department: "Analytical Engines".into(),
        ..roster_domain::ContactInput::default()
    };
    app.directory.update_contact(&actor, ada.id, ada.version, &contact).await.unwrap();
    let input = AppInput {
        name: "Payroll".into(),
        sign_in: SignInInput {
            redirect_uris: vec![CALLBACK.into()],
            admin_consent: true,
            claim_mappings: vec!["dept = department".into(), "upn = userPrincipalName".into(), "job = jobTitle".into()],
            ..SignInInput::default()
        },
        ..AppInput::default()
    };
    let (registered, secret) = app.directory.register_app(&actor, &input).await.unwrap();
    let client =
        Registered { id: registered.id.to_string(), secret: secret.map(|(_, s)| s.expose_secret().to_string()) };
    let s = app.client();
    let landed = sign_in_through(&s, &authorize_path(&client, &[("scope", "openid")]), "ada@contoso.com").await;
    let (_, tokens) = redeem(&app, &client, &query_of(&landed)["code"]).await;
    let claims = verified_claims(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(
        (claims["dept"].as_str(), claims["upn"].as_str()),
        (Some("Analytical Engines"), Some("ada@contoso.com"))
    );
    assert!(claims.get("job").is_none(), "an attribute with no value makes no claim");
    let (_, info) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["dept"], "Analytical Engines");

    let admin_session = app.signed_in("admin@contoso.com").await;
    let csrf = admin_session.csrf().await;
    let (_, page) = admin_session.page(&format!("/admin/apps/{}", client.id)).await;
    assert!(page.contains("dept = department\nupn = userPrincipalName\njob = jobTitle"), "{page}");
    let form = [("csrf", csrf.as_str()), ("redirect_uris", CALLBACK), ("claim_mappings", "iss = mail")];
    let (status, page) = admin_session.submit(&format!("/admin/apps/{}/sign-in", client.id), &form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("iss is a claim of the protocol"), "{page}");
}

#[tokio::test]
async fn a_pairwise_subject_is_stable_for_one_application_and_differs_between_them() {
    let Some(app) = TestApp::start().await else { return };
    let ada = app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    let mut clients = Vec::new();
    for name in ["Wiki", "Chat"] {
        let input = AppInput {
            name: name.into(),
            sign_in: SignInInput {
                redirect_uris: vec![CALLBACK.into()],
                admin_consent: true,
                pairwise_subject: true,
                ..SignInInput::default()
            },
            ..AppInput::default()
        };
        let (registered, secret) = app.directory.register_app(&Actor::system("test"), &input).await.unwrap();
        clients.push(Registered {
            id: registered.id.to_string(),
            secret: secret.map(|(_, s)| s.expose_secret().to_string()),
        });
    }
    let s = app.client();
    let mut subjects = Vec::new();
    for (i, client) in [&clients[0], &clients[1], &clients[0]].into_iter().enumerate() {
        let path = authorize_path(client, &[]);
        let landed =
            if i == 0 { sign_in_through(&s, &path, "ada@contoso.com").await } else { location(&s.get(&path).await) };
        let (_, tokens) = redeem(&app, client, &query_of(&landed)["code"]).await;
        let claims = verified_claims(&app, tokens["id_token"].as_str().unwrap()).await;
        let (_, info) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(info["sub"], claims["sub"], "userinfo names the same subject");
        subjects.push((claims["sub"].as_str().unwrap().to_string(), tokens["id_token"].as_str().unwrap().to_string()));
    }
    assert_ne!(subjects[0].0, ada.id.to_string(), "not the user's id");
    assert_ne!(subjects[0].0, subjects[1].0, "two applications cannot match their users up");
    assert_eq!(subjects[0].0, subjects[2].0, "one application always sees the same subject");

    // Its ID token as a hint still signs the right person out at once.
    let hint = &subjects[2].1;
    let r = s.get(&format!("/oauth2/v2.0/logout?id_token_hint={hint}")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "signed out without being asked");
}

/// A multipart body of the CSRF token and one file, as a browser sends an upload form.
fn upload_form(csrf: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "roster-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\n\
         Content-Disposition: form-data; name=\"logo\"; filename=\"logo.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn an_application_gets_a_logo_that_my_apps_shows_and_only_images_are_taken() {
    let Some(app) = TestApp::start().await else { return };
    app.user("admin@contoso.com", "Admin", &[Role::GlobalAdministrator]).await;
    let client = register(&app, false, "RS256").await;
    let admin = app.signed_in("admin@contoso.com").await;
    let csrf = admin.csrf().await;
    let upload = |file: Vec<u8>| {
        let (content_type, body) = upload_form(&csrf, &file);
        admin
            .http
            .post(format!("{}/admin/apps/{}/logo", app.base, client.id))
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    let r = upload(svg).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("The logo must be a PNG or JPEG image."));

    let png = [b"\x89PNG\r\n\x1a\n".to_vec(), b"rest of a small image".to_vec()].concat();
    let r = upload(png.clone()).await.unwrap();
    assert_eq!(location(&r), format!("/admin/apps/{}?done=logo", client.id));
    let (_, apps) = admin.page("/apps").await;
    let marker = format!("<img class=\"app-logo\" src=\"/apps/{}/logo?v=", client.id);
    let start = apps.find(&marker).unwrap_or_else(|| panic!("{apps}")) + "<img class=\"app-logo\" src=\"".len();
    let src = apps[start..].split('"').next().unwrap().to_string();
    let r = admin.get(&src).await;
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().to_vec(), png);
    assert_eq!(
        location(&app.client().get(&src).await),
        format!("/signin?next={}", url::form_urlencoded::byte_serialize(src.as_bytes()).collect::<String>()),
        "only for people signed in"
    );

    let r = admin.post(&format!("/admin/apps/{}/logo/remove", client.id), &[("csrf", &csrf)]).await;
    assert_eq!(location(&r), format!("/admin/apps/{}?done=logo-removed", client.id));
    assert_eq!(admin.get(&src).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_password_reset_or_sign_out_everywhere_ends_application_tokens_at_once() {
    let Some(app) = TestApp::start().await else { return };
    let admin = app.user("admin@contoso.com", "Admin", &[Role::GlobalAdministrator]).await;
    let ada = app.user("ada@contoso.com", "Ada Lovelace", &[]).await;
    let client = register(&app, false, "RS256").await;
    let actor = Actor::user(&admin, None, None);
    for end in ["reset", "everywhere"] {
        let s = app.client();
        let landed = sign_in_through(&s, &authorize_path(&client, &[]), "ada@contoso.com").await;
        let (_, tokens) = redeem(&app, &client, &query_of(&landed)["code"]).await;
        match end {
            "reset" => {
                app.directory.reset_password(&actor, ada.id, Some(PASSWORD.into()), false).await.unwrap();
            }
            _ => app.directory.sign_out_everywhere(&actor, ada.id).await.unwrap(),
        }
        let (status, body) = refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{end}");
        let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{end}");
    }
}
