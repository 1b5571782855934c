//! Bounded work per request: the worst input each surface takes (Graph, SCIM, the contact form,
//! a CSV file, the command line) is refused with its error in time proportional to reading it,
//! measured against a small input of the same kind in the same test.

use std::future::Future;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use roster_domain::apps::AppPermission;
use roster_domain::directory::ImportOptions;
use roster_domain::{Actor, Role};
use serde_json::{json, Value};

use crate::contact::{form_with, save};
use crate::graph::{call, token as graph_token};
use crate::harness::TestApp;
use crate::import::{import_as, roster};
use crate::scim::{scim, token as scim_token};

/// How long `work` takes, with its result.
async fn timed<T>(work: impl Future<Output = T>) -> (Duration, T) {
    let started = Instant::now();
    let out = work.await;
    (started.elapsed(), out)
}

/// Fails unless the worst case took at most a bounded multiple of the small one. Reading a body
/// of megabytes takes longer than reading a line, so the bound is generous; work that grows
/// with the square of the input (seconds to minutes here) is far past it.
fn assert_bounded(what: &str, small: Duration, worst: Duration) {
    let bound = small * 50 + Duration::from_secs(2);
    assert!(worst <= bound, "{what}: the worst case took {worst:?}, over {bound:?} (a small input took {small:?})");
}

fn addresses(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("a{i}@fabrikam.com")).collect()
}

#[tokio::test]
async fn graph_refuses_ninety_thousand_other_mails_at_once() {
    let Some(app) = TestApp::start().await else { return };
    let user = app.user("alex@contoso.com", "Alex", &[]).await;
    let token = graph_token(&app, &[AppPermission::UserReadWriteAll]).await;
    let path = format!("/v1.0/users/{}", user.id);
    let patch = |n: usize| call(&app, &token, Method::PATCH, &path, Some(json!({"otherMails": addresses(n)})));

    patch(11).await;
    let (small, (status, _)) = timed(patch(11)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (worst, (status, body)) = timed(patch(90_000)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("at most 10 alternate email addresses"), "{body}");
    assert_eq!(body["error"]["details"][0]["target"], "otherMails");
    assert_bounded("Graph otherMails", small, worst);
    assert!(app.reload(&user).await.contact.alternate_emails.is_empty());
}

#[tokio::test]
async fn scim_refuses_oversized_resources_and_patches_at_once() {
    let Some(app) = TestApp::start().await else { return };
    let token = scim_token(&app, &[AppPermission::UserReadWriteAll]).await;
    let emails =
        |n: usize| -> Vec<Value> { addresses(n).into_iter().map(|a| json!({"value": a, "type": "other"})).collect() };
    let create = |n: usize| {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@contoso.com",
            "emails": emails(n),
        });
        scim(&app, &token, Method::POST, "/Users", Some(body), None)
    };
    create(11).await;
    let (small, reply) = timed(create(11)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let (worst, reply) = timed(create(40_000)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.body["detail"].as_str().unwrap().contains("at most 10"), "{}", reply.body);
    assert_bounded("SCIM create", small, worst);

    let user = app.user("bea@contoso.com", "Bea", &[]).await;
    let path = format!("/Users/{}", user.id);
    let patch = |n: usize| {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "emails", "value": emails(n)}],
        });
        scim(&app, &token, Method::PATCH, &path, Some(body), None)
    };
    let (small, reply) = timed(patch(11)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let (worst, reply) = timed(patch(40_000)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.body["detail"].as_str().unwrap().contains("40000 values; at most 1000"), "{}", reply.body);
    assert_bounded("SCIM PATCH", small, worst);
    assert!(app.reload(&user).await.contact.alternate_emails.is_empty());
}

#[tokio::test]
async fn the_contact_form_refuses_forty_five_thousand_addresses_at_once() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    let alex = app.user("alex@contoso.com", "Alex", &[]).await;
    let s = app.signed_in("global@contoso.com").await;
    let form = |n: usize| {
        let s = &s;
        let alex = &alex;
        async move {
            let mut fields = form_with(s, alex, &[]).await;
            fields.extend(addresses(n).into_iter().map(|a| ("alternate_email".to_string(), a)));
            save(s, alex, &fields).await
        }
    };
    form(11).await;
    let (small, (status, _)) = timed(form(11)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (worst, (status, html)) = timed(form(45_000)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("A user can have at most 10 alternate email addresses."));
    assert_eq!(html.matches("name=\"alternate_email\"").count(), 11, "shown again: ten and the one too many");
    assert_bounded("contact form", small, worst);
    assert!(app.reload(&alex).await.contact.alternate_emails.is_empty());
}

#[tokio::test]
async fn a_csv_file_with_an_endless_cell_is_refused_at_once() {
    let Some(app) = TestApp::start().await else { return };
    let file = |n: usize| {
        format!("User Name,Display Name,Alternate email address\nal@contoso.com,Al,{}\n", addresses(n).join(";"))
    };
    let check = |text: String| {
        let app = &app;
        async move {
            import_as(app, &Actor::system("test"), &text, ImportOptions { dry_run: true, skip_invalid: false }).await
        }
    };
    let (small, (summary, _)) = timed(check(file(11))).await;
    assert_eq!(summary.failed, 1);
    let (worst, (summary, collected)) = timed(check(file(60_000))).await;
    assert_eq!(summary.created, 0);
    assert!(
        collected.problems[0].contains("the row starting on line 2 is longer than 64 KiB"),
        "{:?}",
        collected.problems
    );
    assert_bounded("CSV reader", small, worst);
}

#[tokio::test]
async fn the_command_line_dry_run_refuses_an_endless_cell_at_once() {
    let Some(app) = TestApp::start().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, n: usize| {
        let path = dir.path().join(name);
        let text =
            format!("User Name,Display Name,Alternate email address\nal@contoso.com,Al,{}\n", addresses(n).join(";"));
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (small_file, worst_file) = (write("small.csv", 11), write("worst.csv", 60_000));
    let (small, (ok, _, stderr)) = timed(roster(&app, &["users", "import", "--dry-run", &small_file])).await;
    assert!(!ok && stderr.contains("at most 10"), "{stderr}");
    let (worst, (ok, _, stderr)) = timed(roster(&app, &["users", "import", "--dry-run", &worst_file])).await;
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("line 2: The file could not be read: the row starting on line 2 is longer than 64 KiB."),
        "{stderr}"
    );
    assert_bounded("roster users import --dry-run", small, worst);
}

#[tokio::test]
async fn an_upload_over_the_limit_gets_the_import_page_s_own_error() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    let s = app.signed_in("global@contoso.com").await;
    let csrf = s.csrf().await;
    let boundary = "roster-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"users.csv\"\r\n\
         Content-Type: text/csv\r\n\r\nUser Name,Display Name\r\n"
    )
    .into_bytes();
    let row = b"someone@contoso.com,Someone\r\n";
    while body.len() <= 65 * 1024 * 1024 {
        body.extend_from_slice(row);
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = s
        .http
        .post(format!("{}/admin/users/import", s.base))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let html = r.text().await.unwrap();
    assert!(html.contains("The file is larger than 64 MB"), "{html}");
    assert!(html.contains("Add multiple users"), "the upload page itself, ready for another file");
}
