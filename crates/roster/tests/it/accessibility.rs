//! axe-core, the accessibility engine, over every page of the admin center and of My account,
//! at a desktop width and a phone's (390 × 844), in headless Chromium; and, at the phone's
//! width, no page may scroll sideways.
//!
//! Needs axe-core from the npm registry: `scripts/test-all` installs it from
//! `tests/axe/package-lock.json` and names its script in `ROSTER_AXE`.

use fantoccini::Client;
use roster_domain::directory::{AppInput, NewGroup, SignInInput};
use roster_domain::group::GroupInput;
use roster_domain::mfa::MfaPolicy;
use roster_domain::{Actor, ContactInput, Role};
use serde_json::Value;

use crate::browser::{browser_available, in_browser, sign_in};
use crate::harness::{on_postgres, skip, TestApp};

/// The widths every page is checked at: a common laptop's, and a phone's.
const WIDTHS: [(u32, u32); 2] = [(1366, 900), (390, 844)];

/// axe-core's script, from `ROSTER_AXE`.
fn axe_script() -> Option<String> {
    let test = "every page passes axe-core";
    let path = std::env::var("ROSTER_AXE").ok().or_else(|| skip("axe-core", test, "ROSTER_AXE"))?;
    std::fs::read_to_string(&path).ok().or_else(|| skip("axe-core", test, &path))
}

/// What axe-core finds serious or critical on the page shown, and whether it scrolls sideways.
async fn problems(c: &Client, axe: &str, page: &str, width: u32) -> Vec<String> {
    c.execute(axe, vec![]).await.expect("load axe-core");
    let run = "const done = arguments[arguments.length - 1];\
               axe.run(document, { resultTypes: ['violations'] })\
                 .then((r) => done(r.violations\
                   .filter((v) => v.impact === 'serious' || v.impact === 'critical')\
                   .map((v) => v.id + ' (' + v.impact + '): ' + v.nodes.map((n) => n.target.join(' ')).join(', '))))\
                 .catch((e) => done(['axe-core failed: ' + e]));";
    let found: Value = c.execute_async(run, vec![]).await.expect("run axe-core");
    let mut problems: Vec<String> =
        found.as_array().unwrap().iter().map(|v| format!("{page} at {width} px: {}", v.as_str().unwrap())).collect();
    // The page's width, and the outermost element that reaches past the window, to fix.
    let measure = "const inner = window.innerWidth;\
                   const past = Array.from(document.querySelectorAll('body *'))\
                     .find((e) => e.getBoundingClientRect().right > inner + 1);\
                   const name = past ? past.tagName.toLowerCase() + (past.className ? '.' + past.className : '') : '';\
                   return [document.documentElement.scrollWidth, inner, name];";
    let sizes: Value = c.execute(measure, vec![]).await.expect("measure the page");
    let (scroll, inner) = (sizes[0].as_u64().unwrap(), sizes[1].as_u64().unwrap());
    if scroll > inner {
        let past = sizes[2].as_str().unwrap_or_default();
        problems.push(format!("{page} at {width} px: scrolls sideways ({scroll} px wide in {inner} px; {past})"));
    }
    problems
}

#[tokio::test]
async fn every_page_passes_axe_core_at_desktop_and_phone_widths() {
    if !browser_available() {
        return;
    }
    // The pages are the same on either engine: they are checked once, on SQLite.
    if on_postgres() {
        return;
    }
    let Some(axe) = axe_script() else { return };
    let Some(app) = TestApp::start().await else { return };
    let system = Actor::system("test");
    app.directory.set_mfa_policy(&system, MfaPolicy::Optional).await.unwrap();
    let admin = app.user("megan.bowen@contoso.com", "Megan Bowen", &[Role::GlobalAdministrator]).await;
    let alex = app.user("alex.wilber@contoso.com", "Alex Wilber", &[]).await;
    let contact = ContactInput {
        display_name: "Alex Wilber".into(),
        mobile_phone: "+14255550100".into(),
        alternate_emails: vec!["alex.personal@fabrikam.com".into()],
        job_title: "Retail Manager".into(),
        ..ContactInput::default()
    };
    app.directory.update_contact(&system, alex.id, alex.version, &contact).await.unwrap();
    let group =
        NewGroup { input: GroupInput { display_name: "Sales".into(), ..GroupInput::default() }, ..NewGroup::default() };
    let group = app.directory.create_group(&system, group).await.unwrap();
    let input = AppInput {
        name: "Timesheets".into(),
        sign_in: SignInInput {
            redirect_uris: vec!["https://timesheets.example.com/callback".into()],
            home_page_url: "https://timesheets.example.com/".into(),
            ..SignInInput::default()
        },
        ..AppInput::default()
    };
    let (registered, _) = app.directory.register_app(&system, &input).await.unwrap();
    crate::access_pass::enable_passes(&app).await;
    let pass = roster_domain::access_pass::AccessPassRequest::default();
    app.directory.create_access_pass(&system, alex.id, &pass).await.unwrap();
    let deleted = app.user("gone@contoso.com", "Gone Person", &[]).await;
    app.directory.delete_user(&system, deleted.id).await.unwrap();

    let user = format!("/admin/users/{}", alex.id);
    let pages: Vec<String> = [
        "/admin",
        "/admin/users",
        "/admin/users?q=alex",
        "/admin/users?show=no_contacts",
        "/admin/users/new",
        &format!("{user}/added"),
        "/admin/users/import",
        &user,
        &format!("{user}/contact"),
        &format!("{user}/roles"),
        &format!("{user}/username"),
        &format!("{user}/password"),
        &format!("{user}/password/done"),
        &format!("{user}/confirm/delete"),
        &format!("{user}/access-pass"),
        &format!("{user}/access-pass/done"),
        &format!("{user}/confirm/remove-access-pass"),
        &format!("/admin/users/{}", deleted.id),
        "/admin/deleted-users",
        "/admin/groups",
        "/admin/groups/new",
        &format!("/admin/groups/{}", group.id),
        "/admin/deleted-groups",
        "/admin/audit",
        "/admin/sign-ins",
        "/admin/reports/readiness",
        "/admin/reports/readiness?group=no_contacts",
        "/admin/outbox",
        "/admin/apps",
        &format!("/admin/apps/{}", registered.id),
        "/admin/settings",
        "/admin/no-such-page",
        "/account",
        "/account/password",
        "/account/security",
        "/account/groups",
        "/account/apps",
        "/apps",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    let signed_out = ["/signin", "/reset"];
    let base = app.base.clone();
    let admin_name = admin.username.to_string();
    in_browser(|c| async move {
        let mut found = Vec::new();
        for (width, height) in WIDTHS {
            c.set_window_size(width, height).await.unwrap();
            let inner: Value = c.execute("return window.innerWidth;", vec![]).await.unwrap();
            assert!(inner.as_u64().unwrap() <= u64::from(width), "the window is {width} px wide");
            for path in signed_out {
                c.goto(&format!("{base}{path}")).await.unwrap();
                found.extend(problems(&c, &axe, path, width).await);
            }
            sign_in(&c, &base, &admin_name, "/admin").await;
            for path in &pages {
                c.goto(&format!("{base}{path}")).await.unwrap();
                found.extend(problems(&c, &axe, path, width).await);
            }
            c.delete_all_cookies().await.unwrap();
        }
        assert!(found.is_empty(), "{} problems:\n{}", found.len(), found.join("\n"));
    })
    .await;
}
