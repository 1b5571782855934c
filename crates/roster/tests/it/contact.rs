//! Manage contact information: saving, validation, permissions, conflicts and audit.

use reqwest::StatusCode;
use roster_domain::{AuditAction, AuditQuery, Role, User};

use crate::harness::{hidden_value, location, Session, TestApp};

/// The form as loaded, with `changes` applied on top (a name given twice is replaced once).
pub(crate) async fn form_with(s: &Session, user: &User, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let (status, html) = s.page(&format!("/admin/users/{}/contact", user.id)).await;
    assert_eq!(status, StatusCode::OK);
    let mut fields: Vec<(String, String)> = vec![
        ("csrf".into(), hidden_value(&html, "csrf")),
        ("version".into(), hidden_value(&html, "version")),
        ("display_name".into(), user.contact.display_name.clone()),
    ];
    for (name, value) in changes {
        fields.retain(|(n, _)| n != name || *name == "alternate_email");
        fields.push((name.to_string(), value.to_string()));
    }
    fields
}

pub(crate) async fn save(s: &Session, user: &User, fields: &[(String, String)]) -> (StatusCode, String) {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    s.submit(&format!("/admin/users/{}/contact", user.id), &pairs).await
}

#[tokio::test]
async fn saved_contact_information_shows_when_the_user_is_opened_again() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    let alex = app.user("alex.wilber@contoso.com", "Alex Wilber", &[]).await;
    let s = app.signed_in("global@contoso.com").await;
    let fields = form_with(
        &s,
        &alex,
        &[
            ("mobile_phone", "+44 20 7946 0958"),
            ("office_phone", "(425) 555-0100 x1234"),
            ("alternate_mobile_phone", "+49 1513 7389275"),
            ("alternate_email", "Alex.Personal@Fabrikam.COM"),
            ("alternate_email", "alex@northwindtraders.com"),
            ("job_title", "Retail Manager"),
            ("street_address", "1 Microsoft Way"),
            ("country", "United States"),
        ],
    )
    .await;
    let r = s.http.post(format!("{}/admin/users/{}/contact", s.base, alex.id)).form(&fields).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = s.page(&location(&r)).await;
    assert!(html.contains("role=\"status\">Contact information saved."));
    for shown in [
        "+44 20 7946 0958",
        "+1 425-555-0100 ext. 1234",
        "+49 1513 7389275",
        "Alex.Personal@fabrikam.com",
        "alex@northwindtraders.com",
        "Retail Manager",
    ] {
        assert!(html.contains(shown), "details show {shown}");
    }
    let stored = app.reload(&alex).await;
    assert_eq!(stored.contact.mobile_phone.as_deref(), Some("+442079460958"));
    assert_eq!(stored.contact.office_phone.as_deref(), Some("+14255550100x1234"));
    assert_eq!(stored.version, alex.version + 1);

    let entries = app
        .directory
        .audit_log(
            &roster_domain::Actor::system("test"),
            &AuditQuery { target: Some(alex.id), limit: 10, ..AuditQuery::default() },
        )
        .await
        .unwrap();
    let change = &entries[0];
    assert_eq!(change.action, AuditAction::ContactChanged);
    assert_eq!(change.actor_name, "Global (global@contoso.com)");
    assert_eq!(change.client_ip.as_deref(), Some("127.0.0.1"));
    assert!(change.request_id.is_some());
    let mobile = change.changes.iter().find(|c| c.field == "mobile_phone").unwrap();
    assert_eq!((mobile.before.as_deref(), mobile.after.as_deref()), (None, Some("+442079460958")));
    assert!(change.changes.iter().all(|c| !c.field.contains("password")));

    let (_, audit_page) = s.page(&format!("/admin/audit?user={}", alex.id)).await;
    assert!(audit_page.contains("Contact information changed") && audit_page.contains("+44 20 7946 0958"));
}

/// Form fields to change, as (name, value) pairs.
type Changes<'a> = &'a [(&'a str, &'a str)];

#[tokio::test]
async fn each_invalid_field_is_marked_and_nothing_is_saved() {
    let Some(app) = TestApp::start().await else { return };
    app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    let alex = app.user("alex.wilber@contoso.com", "Alex Wilber", &[]).await;
    let s = app.signed_in("global@contoso.com").await;
    let long = "x".repeat(257);
    let cases: [(Changes, &str, &str); 8] = [
        (&[("mobile_phone", "555-01")], "mobile_phone", "not a valid phone number"),
        (&[("office_phone", "+1 555 0100")], "office_phone", "A mobile number there looks like +1 201-555-0123."),
        (&[("alternate_email", "not-an-address")], "alternate_email-1", "valid email address"),
        (&[("alternate_email", "Alex.Wilber@contoso.com")], "alternate_email-1", "own sign-in name"),
        (
            &[("alternate_email", "a@fabrikam.com"), ("alternate_email", "A@FABRIKAM.com")],
            "alternate_email-2",
            "already in the list",
        ),
        (&[("display_name", "  ")], "display_name", "Display name is required"),
        (&[("display_name", long.as_str())], "display_name", "at most 256"),
        (&[("city", "Lon\u{7}don")], "city", "control characters"),
    ];
    for (changes, field_id, reason) in cases {
        let fields = form_with(&s, &alex, changes).await;
        let (status, html) = save(&s, &alex, &fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field_id}");
        let input_at = html.find(&format!("id=\"{field_id}\"")).unwrap_or_else(|| panic!("{field_id} input"));
        let input = &html[input_at..input_at + html[input_at..].find('>').unwrap()];
        assert!(input.contains("aria-invalid=\"true\""), "{field_id}: {input}");
        assert!(input.contains(&format!("{field_id}-error")), "{field_id} described by its error");
        assert!(html.contains(&format!("id=\"{field_id}-error\"")), "{field_id}");
        assert!(html.contains(reason), "{field_id}: expected {reason:?}");
        assert!(html.contains("role=\"alert\""));
        assert_eq!(app.reload(&alex).await, alex, "nothing saved for {field_id}");
    }
    let fields = form_with(&s, &alex, &[("mobile_phone", "555-01"), ("city", "Leeds")]).await;
    let _ = save(&s, &alex, &fields).await;
    assert_eq!(app.reload(&alex).await.contact.city, None, "a valid field is not saved beside an invalid one");
}

#[tokio::test]
async fn helpdesk_administrators_cannot_change_an_administrators_recovery_contacts() {
    let Some(app) = TestApp::start().await else { return };
    let global = app.user("global@contoso.com", "Global", &[Role::GlobalAdministrator]).await;
    app.user("helpdesk@contoso.com", "Helpdesk", &[Role::HelpdeskAdministrator]).await;
    let plain = app.user("lee@contoso.com", "Lee Gu", &[]).await;
    let s = app.signed_in("helpdesk@contoso.com").await;

    let fields = form_with(&s, &global, &[("mobile_phone", "+1 425 555 0199")]).await;
    let (status, html) = save(&s, &global, &fields).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("change the phone numbers or alternate email addresses of a Global Administrator"));
    assert_eq!(app.reload(&global).await, global);

    let fields = form_with(&s, &plain, &[("mobile_phone", "+1 425 555 0199")]).await;
    let (status, _) = save(&s, &plain, &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.reload(&plain).await.contact.mobile_phone.as_deref(), Some("+14255550199"));

    let fields = form_with(&s, &plain, &[("job_title", "Chief")]).await;
    let (status, html) = save(&s, &plain, &fields).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "profile fields are for Global and User Administrators");
    assert!(html.contains("readonly"));
}

#[tokio::test]
async fn user_administrators_cannot_change_privileged_administrators_contacts() {
    let Some(app) = TestApp::start().await else { return };
    app.user("useradmin@contoso.com", "User Admin", &[Role::UserAdministrator]).await;
    let auth = app.user("auth@contoso.com", "Auth Admin", &[Role::AuthenticationAdministrator]).await;
    let helpdesk = app.user("helpdesk@contoso.com", "Helpdesk", &[Role::HelpdeskAdministrator]).await;
    let s = app.signed_in("useradmin@contoso.com").await;
    let fields = form_with(&s, &auth, &[("alternate_email", "auth@fabrikam.com")]).await;
    assert_eq!(save(&s, &auth, &fields).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.reload(&auth).await, auth);
    let fields = form_with(&s, &helpdesk, &[("alternate_email", "hd@fabrikam.com")]).await;
    let r = s.http.post(format!("{}/admin/users/{}/contact", s.base, helpdesk.id)).form(&fields).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.reload(&helpdesk).await.contact.alternate_emails, vec!["hd@fabrikam.com"]);
}

#[tokio::test]
async fn a_save_over_a_newer_version_is_refused_and_names_who_changed_it() {
    let Some(app) = TestApp::start().await else { return };
    app.user("first@contoso.com", "Megan Bowen", &[Role::GlobalAdministrator]).await;
    app.user("second@contoso.com", "Nestor Wilke", &[Role::UserAdministrator]).await;
    let alex = app.user("alex.wilber@contoso.com", "Alex Wilber", &[]).await;
    let first = app.signed_in("first@contoso.com").await;
    let second = app.signed_in("second@contoso.com").await;
    let a = form_with(&first, &alex, &[("city", "Leeds")]).await;
    let b = form_with(&second, &alex, &[("city", "York")]).await;
    let r = first.http.post(format!("{}/admin/users/{}/contact", first.base, alex.id)).form(&a).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, html) = save(&second, &alex, &b).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("Megan Bowen (first@contoso.com) changed this user at"), "{html}");
    assert!(html.contains("Nothing was saved"));
    assert_eq!(app.reload(&alex).await.contact.city.as_deref(), Some("Leeds"));
}
