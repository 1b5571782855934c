//! Users → Add multiple users (upload a CSV file, check it, import it, with progress) and
//! Export users.
//!
//! An upload is spooled to a temporary file and imported by a background task, so that a large
//! file neither holds a request open nor sits in memory; its page shows the progress (refreshing
//! itself, no script needed) and then the outcome. A checked file can be imported from its
//! result page without uploading it again. Jobs live in this node's memory, for an hour after
//! they finish.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use roster_domain::csv_users::{Problem, Writer};
use roster_domain::directory::{ImportOptions, ImportProgress, ImportSummary};
use roster_domain::user::Cursor;
use roster_domain::{Actor, Directory, DomainError, ListFilter, UserId};
use serde::Deserialize;

use crate::error::{describe, render, PageError};
use crate::extract::Checked;
use crate::session::{Admin, SignedIn};
use crate::ui::layout::{Layout, Section};
use crate::AppState;

/// Problems kept for the result page; the command line's dry run lists them all.
const SHOWN_PROBLEMS: usize = 1_000;
/// How long a finished job's page stays available.
const KEPT_FOR: Duration = Duration::from_secs(60 * 60);
/// The largest file accepted: about 400,000 rows of typical length.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// The import jobs of this node.
#[derive(Default)]
pub struct Imports {
    jobs: Mutex<HashMap<String, Arc<Mutex<Job>>>>,
}

/// One upload being checked or imported, or done.
struct Job {
    owner: UserId,
    /// The uploaded file, removed when the job is forgotten.
    file: Arc<tempfile::TempPath>,
    name: String,
    size: u64,
    options: ImportOptions,
    rows: u64,
    bytes: u64,
    problems: Vec<Problem>,
    problem_count: u64,
    outcome: Option<Result<ImportSummary, String>>,
    finished: Option<Instant>,
}

/// Reports an import's progress into its job.
struct Progress(Arc<Mutex<Job>>);

impl ImportProgress for Progress {
    fn problem(&mut self, problem: &Problem) {
        let mut job = lock(&self.0);
        job.problem_count += 1;
        if job.problems.len() < SHOWN_PROBLEMS {
            job.problems.push(problem.clone());
        }
    }

    fn progress(&mut self, rows: u64, bytes: u64) {
        let mut job = lock(&self.0);
        (job.rows, job.bytes) = (rows, bytes);
    }
}

/// A poisoned lock only means a panic elsewhere mid-update of counters: the data is still fine
/// to show.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Imports {
    /// Starts importing `file` in the background and returns the job's id.
    fn start(
        &self,
        directory: Directory,
        actor: Actor,
        file: Arc<tempfile::TempPath>,
        name: String,
        options: ImportOptions,
    ) -> Result<String, PageError> {
        let size = std::fs::metadata(&**file).map(|m| m.len()).unwrap_or(0);
        let input = std::fs::File::open(&**file)
            .map_err(|e| PageError::Domain(DomainError::Internal(format!("cannot reopen the upload: {e}"))))?;
        let owner = actor.user_id.ok_or(PageError::Domain(DomainError::NotFound("user")))?;
        let job = Arc::new(Mutex::new(Job {
            owner,
            file,
            name,
            size,
            options,
            rows: 0,
            bytes: 0,
            problems: Vec::new(),
            problem_count: 0,
            outcome: None,
            finished: None,
        }));
        let id = uuid::Uuid::new_v4().to_string();
        {
            let mut jobs = lock(&self.jobs);
            jobs.retain(|_, j| lock(j).finished.is_none_or(|at| at.elapsed() < KEPT_FOR));
            jobs.insert(id.clone(), job.clone());
        }
        tokio::spawn(async move {
            let mut progress = Progress(job.clone());
            let input = std::io::BufReader::with_capacity(256 * 1024, input);
            let result = directory.import_users(&actor, input, options, &mut progress).await;
            let mut job = lock(&job);
            job.outcome = Some(result.map_err(|e| match e {
                DomainError::Invalid(errors) => errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join(" "),
                other => describe(&other).1,
            }));
            job.finished = Some(Instant::now());
        });
        Ok(id)
    }

    /// The job `id` if `me` started it.
    fn get(&self, id: &str, me: &SignedIn) -> Result<Arc<Mutex<Job>>, PageError> {
        let job = lock(&self.jobs).get(id).cloned();
        match job {
            Some(job) if lock(&job).owner == me.user.id => Ok(job),
            _ => Err(PageError::Domain(DomainError::NotFound("import"))),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/import.html")]
struct UploadPage {
    layout: Layout,
    error: Option<String>,
}

/// The upload form.
pub async fn show(Admin(me): Admin) -> Response {
    render(
        StatusCode::OK,
        &UploadPage { layout: Layout::new(&me, "Add multiple users", Section::ActiveUsers), error: None },
    )
}

/// Receives an upload and starts checking or importing it.
pub async fn upload(Admin(me): Admin, State(state): State<AppState>, form: Multipart) -> Result<Response, PageError> {
    let refused = |status: StatusCode, message: String| {
        let layout = Layout::new(&me, "Add multiple users", Section::ActiveUsers);
        Ok(render(status, &UploadPage { layout, error: Some(message) }))
    };
    let upload = match receive(&me, form).await {
        Ok(upload) => upload,
        Err(UploadRefusal::Page(e)) => return Err(e),
        Err(UploadRefusal::TooLarge) => {
            return refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "The file is larger than {} MB, the most one upload can be. Split it into several files, or \
                     import it on the server with roster users import.",
                    MAX_UPLOAD_BYTES / (1024 * 1024)
                ),
            )
        }
    };
    let Some((file, name, size)) = upload.file.filter(|(_, _, size)| *size > 0) else {
        return refused(StatusCode::UNPROCESSABLE_ENTITY, "Choose a CSV file to upload.".into());
    };
    tracing::info!(bytes = size, "import file received");
    let options = ImportOptions { dry_run: upload.check, skip_invalid: upload.skip_invalid };
    let file = Arc::new(file.into_temp_path());
    let id = state.imports.start(state.directory.clone(), me.actor.clone(), file, name, options)?;
    Ok(Redirect::to(&format!("/admin/users/import/{id}")).into_response())
}

/// What an upload form carried.
struct Upload {
    /// The file spooled to disk, its name and size.
    file: Option<(tempfile::NamedTempFile, String, u64)>,
    skip_invalid: bool,
    check: bool,
}

/// Why an upload was not received.
enum UploadRefusal {
    /// Over [`MAX_UPLOAD_BYTES`]: the upload page says so, with its own error.
    TooLarge,
    Page(PageError),
}

impl From<PageError> for UploadRefusal {
    fn from(e: PageError) -> Self {
        UploadRefusal::Page(e)
    }
}

impl From<axum::extract::multipart::MultipartError> for UploadRefusal {
    fn from(e: axum::extract::multipart::MultipartError) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return UploadRefusal::TooLarge;
        }
        UploadRefusal::Page(PageError::Domain(DomainError::invalid(
            "file",
            format!("The upload could not be read: {e}"),
        )))
    }
}

/// Reads the form, spooling the file to disk as it arrives.
async fn receive(me: &SignedIn, mut form: Multipart) -> Result<Upload, UploadRefusal> {
    let mut csrf_ok = false;
    let mut upload = Upload { file: None, skip_invalid: false, check: true };
    let cannot_store =
        |e: std::io::Error| PageError::Domain(DomainError::Internal(format!("cannot store the upload: {e}")));
    while let Some(mut field) = form.next_field().await? {
        match field.name().unwrap_or_default() {
            "csrf" => {
                me.verify_csrf(&field.text().await?)?;
                csrf_ok = true;
            }
            // The token comes first in the form: nothing is written to disk for a forged post.
            _ if !csrf_ok => return Err(PageError::BadToken.into()),
            "file" => {
                let name = field.file_name().unwrap_or_default().to_string();
                let mut file = tempfile::NamedTempFile::new().map_err(cannot_store)?;
                let mut size = 0u64;
                while let Some(chunk) = field.chunk().await? {
                    size += chunk.len() as u64;
                    file.write_all(&chunk).map_err(cannot_store)?;
                }
                upload.file = Some((file, name, size));
            }
            "skip_invalid" => upload.skip_invalid = true,
            "action" => upload.check = field.text().await? != "import",
            _ => {}
        }
    }
    if !csrf_ok {
        return Err(PageError::BadToken.into());
    }
    Ok(upload)
}

#[derive(Template)]
#[template(path = "admin/import_job.html")]
struct JobPage {
    layout: Layout,
    id: String,
    name: String,
    dry_run: bool,
    running: bool,
    rows: String,
    percent: u64,
    summary: Option<ImportSummary>,
    failure: Option<String>,
    problems: Vec<Problem>,
    problem_count: u64,
}

impl JobPage {
    /// Rows that could be imported: read, minus those with problems.
    fn valid_rows(&self) -> u64 {
        self.summary.as_ref().map_or(0, |s| s.created + s.updated)
    }
}

/// Formats a count with thousands separators, as the pages show figures.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A job's progress, then its outcome.
pub async fn job(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let job = state.imports.get(&id, &me)?;
    let job = lock(&job);
    let (summary, failure) = match &job.outcome {
        None => (None, None),
        Some(Ok(summary)) => (Some(summary.clone()), None),
        Some(Err(reason)) => (None, Some(reason.clone())),
    };
    let title = if job.options.dry_run { "Check file" } else { "Import users" };
    let page = JobPage {
        layout: Layout::new(&me, title, Section::ActiveUsers),
        id,
        name: job.name.clone(),
        dry_run: job.options.dry_run,
        running: job.outcome.is_none(),
        rows: grouped(job.rows),
        percent: (job.bytes * 100).checked_div(job.size).unwrap_or(0).min(100),
        summary,
        failure,
        problems: job.problems.clone(),
        problem_count: job.problem_count,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub struct ApplyForm {
    #[serde(default)]
    skip_invalid: Option<String>,
}

/// Imports a file that was checked, without uploading it again.
pub async fn apply(
    Admin(me): Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Checked(axum::Form(form)): Checked<axum::Form<ApplyForm>>,
) -> Result<Response, PageError> {
    let checked = state.imports.get(&id, &me)?;
    let (file, name) = {
        let job = lock(&checked);
        (job.file.clone(), job.name.clone())
    };
    let options = ImportOptions { dry_run: false, skip_invalid: form.skip_invalid.is_some() };
    let id = state.imports.start(state.directory.clone(), me.actor.clone(), file, name, options)?;
    Ok(Redirect::to(&format!("/admin/users/import/{id}")).into_response())
}

#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    q: String,
    /// The Active users filter's code.
    #[serde(default)]
    show: String,
}

#[derive(Deserialize)]
pub struct TemplateQuery {
    /// With two example people.
    #[serde(default)]
    examples: Option<String>,
}

/// A file to start an import from, with the header line and, if asked, two example people.
pub async fn template(_admin: Admin, Query(q): Query<TemplateQuery>) -> Response {
    let (with_examples, name) = match q.examples {
        Some(_) => (true, "attachment; filename=\"users-example.csv\""),
        None => (false, "attachment; filename=\"users-template.csv\""),
    };
    let headers = [(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, name)];
    (headers, roster_domain::csv_users::template(with_examples)).into_response()
}

/// Users per page of an export: each page is two queries and one chunk of the response.
const EXPORT_PAGE: u32 = 500;

/// The headers of an exported users file.
pub const USERS_CSV: [(header::HeaderName, &str); 2] = [
    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
    (header::CONTENT_DISPOSITION, "attachment; filename=\"users.csv\""),
];

/// Streams the active users (those the search and filter keep, if any) as CSV in the import
/// format.
pub async fn export(Admin(me): Admin, State(state): State<AppState>, Query(q): Query<ExportQuery>) -> Response {
    let search = Some(q.q.trim().to_string()).filter(|s| !s.is_empty());
    let filter = ListFilter::from_code(&q.show).unwrap_or_default();
    let directory = state.directory.clone();
    let actor = me.actor.clone();
    // (next cursor, whether the header is written, done)
    let start: (Option<Cursor>, bool, bool) = (None, false, false);
    let pages = futures_util::stream::unfold(start, move |(after, headed, done)| {
        let (directory, actor, search) = (directory.clone(), actor.clone(), search.clone());
        async move {
            if done {
                return None;
            }
            let chunk = async {
                let (users, next) = directory.export_page(&actor, search, filter, after, EXPORT_PAGE).await?;
                let mut writer = match headed {
                    true => Writer::continuing(Vec::new()),
                    false => Writer::new(Vec::new()).map_err(|e| DomainError::Internal(e.to_string()))?,
                };
                for user in &users {
                    writer.write(user).map_err(|e| DomainError::Internal(e.to_string()))?;
                }
                let bytes = writer.finish().map_err(|e| DomainError::Internal(e.to_string()))?;
                Ok::<_, DomainError>((Bytes::from(bytes), next))
            }
            .await;
            Some(match chunk {
                Ok((bytes, next)) => {
                    let done = next.is_none();
                    (Ok(bytes), (next, true, done))
                }
                // The status line is sent already: ending the body early is all that is left,
                // and a truncated file must not look complete, so the connection is broken.
                Err(e) => (Err(std::io::Error::other(e.to_string())), (None, true, true)),
            })
        }
    });
    (USERS_CSV, Body::from_stream(pages)).into_response()
}
