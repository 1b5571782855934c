//! Importing users from Microsoft 365's bulk-add CSV format and exporting them to it: the rules,
//! the all-or-nothing behaviour, permissions row by row, and the round trip.

use roster_domain::audit::{AuditAction, AuditQuery};
use roster_domain::contact::ContactInput;
use roster_domain::csv_users::Problem;
use roster_domain::directory::{ImportOptions, ImportProgress, ImportSummary};
use roster_domain::{Actor, Role, User, UserQuery};

use crate::harness::TestApp;

const HEADERS: &str = "User Name,First Name,Last Name,Display Name,Job Title,Department,Office Number,\
Office Phone,Mobile Phone,Fax,Alternate email address,Address,City,State or Province,ZIP or Postal Code,Country or Region";

/// Microsoft's own sample row: its alternate address is the user's own sign-in name and its
/// phone numbers are not real ones.
const MICROSOFT_SAMPLE: &str = "chris@contoso.com,Chris,Green,Chris Green,IT Manager,Information Technology,\
123451,123-555-1211,123-555-6641,123-555-6700,chris@contoso.com,1 Microsoft way,Redmond,Wa,98052,United States";

const VALID: &str = "megan@contoso.com,Megan,Bowen,Megan Bowen,Marketing Manager,Marketing,\"Building 3, room 12\",\
+1 425 555 0109,+44 7911 123456,,\"megan@fabrikam.com; m.bowen@northwind.com\",\"1 Main St\nSuite 4\",Redmond,WA,98052,\
United States";

/// Collects what an import reports.
#[derive(Default)]
pub(crate) struct Collected {
    pub problems: Vec<String>,
    reports: u64,
}

impl ImportProgress for Collected {
    fn problem(&mut self, problem: &Problem) {
        self.problems.push(problem.to_string());
    }

    fn progress(&mut self, _rows: u64, _bytes: u64) {
        self.reports += 1;
    }
}

pub(crate) async fn import_as(
    app: &TestApp,
    actor: &Actor,
    text: &str,
    options: ImportOptions,
) -> (ImportSummary, Collected) {
    let mut collected = Collected::default();
    let summary =
        app.directory.import_users(actor, text.as_bytes(), options, &mut collected).await.expect("import runs");
    (summary, collected)
}

async fn import(app: &TestApp, text: &str, options: ImportOptions) -> (ImportSummary, Collected) {
    import_as(app, &Actor::system("test"), text, options).await
}

async fn usernames(app: &TestApp) -> Vec<String> {
    let query = UserQuery { limit: 500, sort: roster_domain::UserSort::Username, ..UserQuery::default() };
    let page = app.directory.list_users(&Actor::system("test"), query).await.expect("list");
    page.users.iter().map(|u| u.username.to_string()).collect()
}

async fn by_name(app: &TestApp, username: &str) -> User {
    let query = UserQuery { search: Some(username.into()), limit: 5, ..UserQuery::default() };
    let page = app.directory.list_users(&Actor::system("test"), query).await.expect("list");
    let id = page.users.iter().find(|u| u.username.as_str() == username).expect("listed").id;
    app.directory.get_user(&Actor::system("test"), id).await.expect("get")
}

const DRY: ImportOptions = ImportOptions { dry_run: true, skip_invalid: false };
const STRICT: ImportOptions = ImportOptions { dry_run: false, skip_invalid: false };
const SKIP: ImportOptions = ImportOptions { dry_run: false, skip_invalid: true };

#[tokio::test]
async fn a_dry_run_names_every_problem_field_by_field_and_changes_nothing() {
    let Some(app) = TestApp::start().await else { return };
    let text = format!("{HEADERS}\n{MICROSOFT_SAMPLE}\n{VALID}\n");
    let (summary, collected) = import(&app, &text, DRY).await;
    assert_eq!((summary.rows, summary.created, summary.failed, summary.applied), (2, 1, 1, false));
    let p = &collected.problems;
    assert_eq!(p.len(), 4, "{p:#?}");
    for column in ["Office Phone", "Mobile Phone", "Fax"] {
        assert!(
            p.iter().any(|m| m.starts_with(&format!("line 2, {column}: ")) && m.contains("phone number")),
            "{p:#?}"
        );
    }
    assert!(p.iter().any(|m| m.starts_with("line 2, Alternate email address: ") && m.contains("sign-in")), "{p:#?}");
    assert!(collected.reports >= 1, "progress is reported");
    assert!(usernames(&app).await.is_empty(), "a dry run adds nobody");
}

#[tokio::test]
async fn one_bad_row_changes_nothing_unless_the_rest_may_go_ahead() {
    let Some(app) = TestApp::start().await else { return };
    let text = format!("{HEADERS}\n{VALID}\n{MICROSOFT_SAMPLE}\n");
    let (strict, _) = import(&app, &text, STRICT).await;
    assert_eq!((strict.created, strict.failed, strict.applied), (1, 1, false));
    assert!(usernames(&app).await.is_empty(), "the valid row was not applied either");

    let (skipping, collected) = import(&app, &text, SKIP).await;
    assert_eq!((skipping.created, skipping.failed, skipping.applied), (1, 1, true));
    assert_eq!(collected.problems.len(), 4);
    assert_eq!(usernames(&app).await, ["megan@contoso.com"]);
    let megan = by_name(&app, "megan@contoso.com").await;
    assert_eq!(megan.contact.office.as_deref(), Some("Building 3, room 12"));
    assert_eq!(megan.contact.street_address.as_deref(), Some("1 Main St\nSuite 4"));
    assert_eq!(megan.contact.alternate_emails, ["megan@fabrikam.com", "m.bowen@northwind.com"]);
    let records = app
        .directory
        .audit_log(&Actor::system("test"), &AuditQuery { target: Some(megan.id), limit: 10, ..AuditQuery::default() })
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].action, AuditAction::UserCreated);
    assert!(records[0].changes.iter().any(|c| c.field == "mobile_phone"), "{:?}", records[0].changes);
}

#[tokio::test]
async fn an_update_changes_only_the_file_s_columns_and_tells_the_old_address() {
    let Some(app) = TestApp::start().await else { return };
    let alex = app.user("alex@contoso.com", "Alex Wilber", &[]).await;
    let input = ContactInput {
        display_name: "Alex Wilber".into(),
        job_title: "Engineer".into(),
        city: "Seattle".into(),
        alternate_emails: vec!["alex@fabrikam.com".into()],
        ..ContactInput::default()
    };
    let alex = app.directory.update_contact(&Actor::system("test"), alex.id, alex.version, &input).await.expect("save");

    let text = "User Name,Display Name,Alternate email address\nALEX@contoso.com,Alex Wilber,alex@northwind.com\n";
    let (summary, collected) = import(&app, text, STRICT).await;
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!((summary.updated, summary.created, summary.applied), (1, 0, true));
    let after = app.reload(&alex).await;
    assert_eq!(after.contact.alternate_emails, ["alex@northwind.com"]);
    assert_eq!(after.contact.job_title.as_deref(), Some("Engineer"), "a column the file lacks is kept");
    assert_eq!(after.contact.city.as_deref(), Some("Seattle"));
    assert_eq!(after.version, alex.version + 1);

    let outbox = app.directory.outbox(&Actor::system("test"), None, 50).await.unwrap();
    assert!(
        outbox.iter().any(|m| m.message.recipient == "alex@fabrikam.com"),
        "the address taken away hears of it: {:?}",
        outbox.iter().map(|m| &m.message.recipient).collect::<Vec<_>>()
    );

    let (again, _) = import(&app, text, STRICT).await;
    assert_eq!((again.unchanged, again.updated), (1, 0), "the same file twice changes nothing the second time");
    assert_eq!(app.reload(&alex).await.version, after.version);
}

#[tokio::test]
async fn an_import_cannot_do_what_its_administrator_could_not() {
    let Some(app) = TestApp::start().await else { return };
    let global = app.user("grace@contoso.com", "Grace", &[Role::GlobalAdministrator]).await;
    app.user("pat@contoso.com", "Pat", &[]).await;
    let helpdesk = app.user("hal@contoso.com", "Hal", &[Role::HelpdeskAdministrator]).await;
    let hal = app.directory.administrator("hal@contoso.com").await.expect("an administrator");
    assert_eq!(hal.user_id, Some(helpdesk.id));

    let text = "User Name,Display Name,Mobile Phone\n\
                pat@contoso.com,Pat,+1 425 555 0101\n\
                grace@contoso.com,Grace,+1 425 555 0102\n\
                new@contoso.com,New Person,\n\
                pat2@contoso.com,Pat Renamed,\n";
    let (strict, collected) = import_as(&app, &hal, text, STRICT).await;
    let p = &collected.problems;
    assert!(p.iter().any(|m| m.starts_with("line 3: Your role can't change the phone numbers")), "{p:#?}");
    assert!(p.iter().any(|m| m.starts_with("line 4: Only Global and User Administrators can add users")), "{p:#?}");
    assert_eq!((strict.updated, strict.failed, strict.applied), (1, 3, false));
    assert_eq!(app.reload(&global).await.contact.mobile_phone, None);

    let (skipping, _) = import_as(&app, &hal, text, SKIP).await;
    assert_eq!((skipping.updated, skipping.applied), (1, true));
    assert_eq!(by_name(&app, "pat@contoso.com").await.contact.mobile_phone.as_deref(), Some("+14255550101"));
    assert_eq!(app.reload(&global).await.contact.mobile_phone, None, "the Global Administrator is untouched");
}

#[tokio::test]
async fn a_user_named_twice_or_deleted_is_refused_by_line() {
    let Some(app) = TestApp::start().await else { return };
    let gone = app.user("gone@contoso.com", "Gone", &[]).await;
    app.directory.delete_user(&Actor::system("test"), gone.id).await.unwrap();
    let text = "User Name,Display Name\nsam@contoso.com,Sam\nSAM@contoso.com,Sam Again\ngone@contoso.com,Gone\n";
    let (summary, collected) = import(&app, text, DRY).await;
    assert_eq!((summary.created, summary.failed), (1, 2));
    assert_eq!(
        collected.problems,
        [
            "line 3, User Name: This user is on line 2 already; a file can name each user once.",
            "line 4, User Name: This user is in Deleted users; restore them before importing changes to them.",
        ]
    );
}

#[tokio::test]
async fn a_file_without_the_required_headers_is_refused_whole() {
    let Some(app) = TestApp::start().await else { return };
    let mut collected = Collected::default();
    let err = app
        .directory
        .import_users(&Actor::system("test"), "Name,Email\nx,y\n".as_bytes(), STRICT, &mut collected)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no \"User Name\" column"), "{err}");
}

/// Runs `roster` with the app's database options after `args`.
pub(crate) async fn roster(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let mut all: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    all.extend(app.store_args());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster")).args(&all).output().await.expect("run roster");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8 output");
    (out.status.success(), text(out.stdout), text(out.stderr))
}

#[tokio::test]
async fn exporting_and_importing_again_changes_nothing() {
    let Some(app) = TestApp::start().await else { return };
    let text = format!(
        "{HEADERS},Alternate mobile phone\n{VALID},+49 151 23456789\n\
         \"o'brien@contoso.com\",Seán,O'Brien,\"O'Brien, Seán \"\"Shay\"\"\",,,,+44 20 7946 0958 ext. 12,,,,,,,,Ireland,\n\
         min@contoso.com,,,Min,,,,,,,,,,,,,\n"
    );
    let file = app.data.path().join("in.csv");
    std::fs::write(&file, &text).unwrap();
    let (ok, stdout, stderr) = roster(&app, &["users", "import", file.to_str().unwrap()]).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("Imported: 3 created, 0 updated, 0 unchanged, 0 failed, of 3 rows."), "{stdout}");

    let exported = app.data.path().join("out.csv");
    let (ok, _, stderr) = roster(&app, &["users", "export", exported.to_str().unwrap()]).await;
    assert!(ok, "{stderr}");
    assert!(stderr.contains("Exported 3 users"), "{stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&exported).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "an export holds everyone's contacts");
    }
    let csv = std::fs::read_to_string(&exported).unwrap();
    assert!(csv.starts_with(&format!("{HEADERS},Alternate mobile phone\n")), "{csv}");
    assert!(csv.contains("megan@fabrikam.com; m.bowen@northwind.com"), "{csv}");

    let (ok, stdout, stderr) = roster(&app, &["users", "import", exported.to_str().unwrap()]).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("Imported: 0 created, 0 updated, 3 unchanged, 0 failed, of 3 rows."), "{stdout}");

    let (ok, searched, _) = roster(&app, &["users", "export", "-", "--search", "meg"]).await;
    assert!(ok);
    assert_eq!(searched.lines().count(), 2 + 1, "the header and Megan's row, whose address spans two lines");
}

#[tokio::test]
async fn the_command_line_lists_problems_and_fails_without_changing_anything() {
    let Some(app) = TestApp::start().await else { return };
    let file = app.data.path().join("sample.csv");
    std::fs::write(&file, format!("{HEADERS},Licenses\n{MICROSOFT_SAMPLE},E5\n{VALID},E3\n")).unwrap();
    let (ok, stdout, stderr) = roster(&app, &["users", "import", "--dry-run", file.to_str().unwrap()]).await;
    assert!(!ok, "problems make the command fail");
    assert!(stderr.contains("line 2, Mobile Phone: "), "{stderr}");
    assert!(stderr.contains("1 of 2 rows have problems"), "{stderr}");
    assert!(stdout.contains("Dry run, nothing changed: would be 1 created"), "{stdout}");
    assert!(stdout.contains("Columns ignored (not known): Licenses."), "{stdout}");

    let (ok, stdout, _) =
        roster(&app, &["users", "import", file.to_str().unwrap(), "--as", "nobody@contoso.com"]).await;
    assert!(!ok && stdout.is_empty());
    let (ok, stdout, _) = roster(&app, &["users", "import", file.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(stdout.contains("Nothing changed"), "{stdout}");
    assert!(usernames(&app).await.is_empty());
}

#[tokio::test]
async fn the_admin_center_exports_what_the_search_finds_and_only_to_administrators() {
    let Some(app) = TestApp::start().await else { return };
    app.user("megan@contoso.com", "Megan Bowen", &[Role::UserAdministrator]).await;
    app.user("lee@contoso.com", "Lee Gu", &[]).await;
    let admin = app.signed_in("megan@contoso.com").await;
    let r = admin.get("/admin/users/export?q=lee").await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let body = r.text().await.unwrap();
    assert!(body.starts_with(HEADERS), "{body}");
    assert_eq!(body.lines().count(), 2, "{body}");
    assert!(body.contains("lee@contoso.com,,,Lee Gu"), "{body}");

    let all = admin.get("/admin/users/export").await.text().await.unwrap();
    assert_eq!(all.lines().count(), 3, "{all}");

    let user = app.signed_in("lee@contoso.com").await;
    assert_eq!(user.get("/admin/users/export").await.status(), reqwest::StatusCode::FORBIDDEN);
    assert_eq!(user.get("/admin/users/import").await.status(), reqwest::StatusCode::FORBIDDEN);
    assert_eq!(user.get("/admin/users/import-template").await.status(), reqwest::StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_import_page_offers_files_to_start_from_that_import_as_they_are() {
    let Some(app) = TestApp::start().await else { return };
    app.user("megan@contoso.com", "Megan Bowen", &[Role::UserAdministrator]).await;
    let admin = app.signed_in("megan@contoso.com").await;
    let (_, page) = admin.page("/admin/users/import").await;
    assert!(page.contains("href=\"/admin/users/import-template\" download"), "{page}");
    let r = admin.get("/admin/users/import-template").await;
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let blank = r.text().await.unwrap();
    assert!(blank.starts_with(HEADERS) && blank.lines().count() == 1, "the header line alone: {blank}");
    let examples = admin.get("/admin/users/import-template?examples=1").await.text().await.unwrap();
    assert!(examples.starts_with(HEADERS));
    let (summary, collected) = import(&app, &examples, ImportOptions::default()).await;
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!(summary.created, 2);
    assert!(usernames(&app).await.contains(&"alex.wilber@contoso.com".to_string()));
}
