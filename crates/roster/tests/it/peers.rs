//! The far ends of delivery, run in the test process: an SMTP server (the `mailin` protocol
//! engine behind a real TCP listener) and an HTTP server that speaks Twilio's Messages API.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Form, Json, Router};
use mailin::{Action, Handler, Response, SessionBuilder};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Notify;

/// How long a test waits for something to arrive before it fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A list that tests can wait on.
pub struct Inbox<T> {
    items: Mutex<Vec<T>>,
    arrived: Notify,
}

impl<T: Clone> Inbox<T> {
    fn new() -> Arc<Self> {
        Arc::new(Inbox { items: Mutex::new(Vec::new()), arrived: Notify::new() })
    }

    fn push(&self, item: T) {
        self.items.lock().unwrap().push(item);
        self.arrived.notify_waiters();
    }

    /// Everything received so far.
    pub fn all(&self) -> Vec<T> {
        self.items.lock().unwrap().clone()
    }

    /// Waits until `count` items have arrived, and returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<T> {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let arrived = self.arrived.notified();
                let items = self.all();
                if items.len() >= count {
                    return items;
                }
                arrived.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("expected {count} deliveries, got {}", self.all().len()))
    }
}

/// One email as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    /// The whole message as sent (headers and MIME parts).
    pub data: String,
}

impl Mail {
    /// The message with quoted-printable soft line breaks and `=XX` escapes undone, so that
    /// tests can search the text as written.
    pub fn text(&self) -> String {
        let joined = self.data.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if bytes[i] == b'=' && i + 2 < bytes.len() {
                if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[derive(Clone)]
struct Collector {
    inbox: Arc<Inbox<Mail>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let data = String::from_utf8_lossy(&self.data).into_owned();
        self.inbox.push(Mail { to: std::mem::take(&mut self.to), data });
        mailin::response::OK
    }
}

/// An SMTP server on a loopback port.
pub struct SmtpServer {
    pub addr: SocketAddr,
    pub inbox: Arc<Inbox<Mail>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    /// Listens on a free port.
    pub async fn start() -> SmtpServer {
        Self::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind smtp")).await
    }

    /// Listens on the given listener.
    pub async fn start_on(listener: tokio::net::TcpListener) -> SmtpServer {
        let addr = listener.local_addr().expect("smtp addr");
        let inbox = Inbox::new();
        let shared = inbox.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let handler = Collector { inbox: shared.clone(), to: Vec::new(), data: Vec::new() };
                tokio::spawn(converse(stream, peer, handler));
            }
        });
        SmtpServer { addr, inbox, task }
    }

    /// The `ROSTER_SMTP_URL` of this server (plain SMTP, as to a local relay).
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }
}

async fn converse(stream: tokio::net::TcpStream, peer: SocketAddr, handler: Collector) {
    let mut session = SessionBuilder::new("mail.test").build(peer.ip(), handler);
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if write.write_all(&session.greeting().buffer().unwrap_or_default()).await.is_err() {
        return;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let response = session.process(&line);
        if response.action != Action::NoReply && write.write_all(&response.buffer().unwrap_or_default()).await.is_err()
        {
            return;
        }
        if response.action == Action::Close {
            return;
        }
    }
}

/// One text message as the gateway received it.
#[derive(Debug, Clone)]
pub struct Sms {
    pub account: String,
    pub authorization: String,
    pub to: String,
    pub from: String,
    pub body: String,
}

#[derive(Clone)]
struct Gateway {
    inbox: Arc<Inbox<Sms>>,
    /// Numbers the gateway refuses, as Twilio refuses an invalid `To`.
    refused: Arc<Vec<String>>,
}

/// An HTTP server that speaks Twilio's Messages API.
pub struct TwilioServer {
    pub base_url: String,
    pub inbox: Arc<Inbox<Sms>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TwilioServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TwilioServer {
    /// Listens on a free port; messages to `refused` numbers get Twilio's 400 error.
    pub async fn start(refused: &[&str]) -> TwilioServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind twilio");
        let addr = listener.local_addr().expect("twilio addr");
        let inbox = Inbox::new();
        let gateway =
            Gateway { inbox: inbox.clone(), refused: Arc::new(refused.iter().map(|s| s.to_string()).collect()) };
        let app =
            Router::new().route("/2010-04-01/Accounts/{sid}/Messages.json", post(create_message)).with_state(gateway);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("twilio serve");
        });
        TwilioServer { base_url: format!("http://{addr}"), inbox, task }
    }
}

async fn create_message(
    State(gateway): State<Gateway>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> impl IntoResponse {
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if !authorization.starts_with("Basic ") {
        let body = serde_json::json!({"code": 20003, "message": "Authenticate", "status": 401});
        return (StatusCode::UNAUTHORIZED, Json(body));
    }
    let to = field("To");
    if gateway.refused.contains(&to) {
        let body = serde_json::json!({
            "code": 21211,
            "message": format!("The 'To' number {to} is not a valid phone number."),
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400
        });
        return (StatusCode::BAD_REQUEST, Json(body));
    }
    let sms = Sms { account: sid.clone(), authorization, to: to.clone(), from: field("From"), body: field("Body") };
    gateway.inbox.push(sms);
    let n = gateway.inbox.all().len();
    let body = serde_json::json!({
        "sid": format!("SM{n:032x}"),
        "account_sid": sid,
        "to": to,
        "from": field("From"),
        "body": field("Body"),
        "status": "queued",
        "num_segments": "1",
        "direction": "outbound-api",
        "api_version": "2010-04-01"
    });
    (StatusCode::CREATED, Json(body))
}
