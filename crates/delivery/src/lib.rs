//! Delivery of the outbox: a worker that claims due messages, hands each to the transport of its
//! channel (SMTP for email, an SMS gateway for texts, HTTP for applications' sign-out notices)
//! and records what came of it.
//!
//! Every node runs a worker; the store's leases make sure that one message goes to one worker
//! at a time, and a lease that outlives a dead worker lets another take the message over. A
//! worker records outcomes only for messages still under the lease it took them with, and a
//! message whose delivery was recorded is never sent again.
//!
//! A worker either *holds* what it cannot send ([`Worker::new`]: the development setting of the
//! embedded database, where this node is the only one) or *shares* the outbox
//! ([`Worker::sharing`]: nodes on one PostgreSQL database), taking only messages on channels it
//! has a transport for and leaving the rest for a node that has one.

use std::sync::Arc;
use std::time::Duration;

use roster_domain::outbox::{self, Channel, Lease, Message, OutboxEntry, Outcome};
use roster_domain::{Store, StoreError, Timestamp};
use tokio::sync::{watch, Notify};

pub mod apps;
pub mod email;
pub mod sms;

pub use email::{EmailTransport, SmtpConfig};
pub use sms::{SmsTransport, TwilioConfig, WebhookConfig};

/// Why one attempt failed, and whether trying again could help.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server or gateway refused the message for good (a bad address, say).
    #[error("{0}")]
    Permanent(String),
    /// Unreachable, busy or a temporary refusal.
    #[error("{0}")]
    Temporary(String),
}

/// The transports configured for this node; a channel without one has its messages held, or
/// left to other nodes by a [sharing](Worker::sharing) worker.
#[derive(Clone, Default)]
pub struct Transports {
    pub email: Option<EmailTransport>,
    pub sms: Option<SmsTransport>,
}

impl Transports {
    /// Whether messages on `channel` leave the server.
    pub fn has(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email.is_some(),
            Channel::Sms => self.sms.is_some(),
            // Applications are reached over HTTP, which every node has.
            Channel::Application => true,
        }
    }

    /// The channels with a transport.
    pub fn channels(&self) -> Vec<Channel> {
        Channel::ALL.into_iter().filter(|c| self.has(*c)).collect()
    }

    async fn send(&self, message: &Message) -> Option<Result<(), SendError>> {
        match message.channel {
            Channel::Email => Some(self.email.as_ref()?.send(message).await),
            Channel::Sms => Some(self.sms.as_ref()?.send(message).await),
            Channel::Application => Some(apps::send(message).await),
        }
    }
}

/// The channels that reach people, which need a transport configured.
const PEOPLE: [Channel; 2] = [Channel::Email, Channel::Sms];

/// How many messages one round claims. They are sent at the same time, each cut off after
/// [`SEND_LIMIT`], so the claim's two-minute lease outlasts the whole round and no other worker
/// can take a message over while it is being sent; their outcomes are then recorded in one
/// transaction (one disk flush per round, not two per message).
const BATCH: u32 = 16;

/// How many messages one round takes when no transport is configured at all: nothing is sent,
/// each is only marked held (claim and record in one statement) and printed, so a bigger round
/// costs no concurrency, and its one disk flush, shared by more messages, competes less with
/// saves for the one writer (in the benchmark, about a third of the save rate went to rounds of
/// 16 claimed and recorded apart).
const HELD_BATCH: u32 = 256;

/// The longest one attempt may take, whatever the transport's own timeouts cover (lettre's
/// covers only connecting): well inside the lease.
pub const SEND_LIMIT: Duration = Duration::from_secs(45);

/// Pauses between tries at recording a round's outcomes: the messages were sent, and losing
/// their outcomes would have them sent again once their leases run out.
const RECORD_RETRIES: [Duration; 5] = [
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(10),
    Duration::from_secs(30),
];

/// How long a woken worker lets more messages gather before it claims them: short beside any
/// delivery's own time, long beside the time between two saves under load.
const GATHER: Duration = Duration::from_millis(20);

/// How often an idle worker looks for due messages queued by other nodes or due for a retry.
const POLL: Duration = Duration::from_secs(1);

/// The outbox worker of one node.
pub struct Worker {
    store: Arc<dyn Store>,
    transports: Transports,
    /// What it claims: every channel when it holds what it cannot send, else those it can.
    channels: Vec<Channel>,
    /// It marks held what it has no transport for, instead of leaving it to another node.
    holds: bool,
    /// First retry delay; each further one doubles it.
    retry_base: Duration,
    wake: Arc<Notify>,
    send_limit: Duration,
}

impl Worker {
    /// A worker over `store`, woken early by `wake`, that holds the messages of channels it has
    /// no transport for (printed and kept for Admin > Message outbox): for the only node of an
    /// installation, where no other worker could send them.
    pub fn new(store: Arc<dyn Store>, transports: Transports, retry_base: Duration, wake: Arc<Notify>) -> Self {
        let channels = Channel::ALL.to_vec();
        Worker { store, transports, channels, holds: true, retry_base, wake, send_limit: SEND_LIMIT }
    }

    /// The same worker sharing the outbox with other nodes' workers: it takes only messages on
    /// channels it has a transport for and holds nothing, so that a node missing a transport
    /// leaves those messages pending for a node that has it. With no transport it takes nothing.
    pub fn sharing(self) -> Self {
        Worker { channels: self.transports.channels(), holds: false, ..self }
    }

    /// The same worker cutting attempts off after `limit` instead of [`SEND_LIMIT`].
    pub fn with_send_limit(self, limit: Duration) -> Self {
        Worker { send_limit: limit, ..self }
    }

    /// Delivers until `stop` turns true (or its sender is gone). A round under way is finished
    /// first, so that a stopping node leaves no message leased and half-sent.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            match self.round().await {
                // A full round: more are probably due.
                Ok(claimed) if claimed == self.batch_size() as usize => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading the outbox failed"),
            }
            tokio::select! {
                _ = self.wake.notified() => {
                    // Saves come in bursts; the messages of a burst share one round (one claim
                    // and one record) instead of each save's costing the writer two more commits.
                    tokio::select! {
                        _ = tokio::time::sleep(GATHER) => {}
                        changed = stop.changed() => if changed.is_err() { return },
                    }
                }
                _ = tokio::time::sleep(POLL) => {}
                changed = stop.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Claims one batch of due messages (on its channels, unless it holds the rest), attempts
    /// them all at once, and records the outcomes; returns how many it claimed.
    pub async fn round(&self) -> Result<usize, StoreError> {
        if self.holds_everything() {
            let held = self.store.hold_messages(Timestamp::now(), &PEOPLE, HELD_BATCH).await?;
            for entry in &held {
                print_held(&entry.message);
                count(entry.message.channel, &Outcome::Held);
            }
            // Applications are reached over HTTP even so.
            return Ok(held.len() + self.send(&[Channel::Application]).await?);
        }
        self.send(&self.channels).await
    }

    /// Claims one batch of due messages on `channels`, attempts them all at once, and records
    /// the outcomes; returns how many it claimed.
    async fn send(&self, channels: &[Channel]) -> Result<usize, StoreError> {
        if channels.is_empty() {
            return Ok(0);
        }
        let claim = self.store.claim_messages(Timestamp::now(), channels, BATCH).await?;
        let batch = &claim.entries;
        let attempts = batch.iter().map(|entry| async move {
            match tokio::time::timeout(self.send_limit, self.attempt(entry)).await {
                Ok(outcome) => outcome,
                Err(_) => self.failed(entry, format!("no answer within {} ms", self.send_limit.as_millis())),
            }
        });
        let outcomes: Vec<(i64, Outcome)> =
            batch.iter().map(|e| e.message.id).zip(futures_util::future::join_all(attempts).await).collect();
        for (entry, (_, outcome)) in batch.iter().zip(&outcomes) {
            count(entry.message.channel, outcome);
        }
        if !outcomes.is_empty() {
            self.record(claim.lease, &outcomes).await?;
        }
        Ok(batch.len())
    }

    /// Messages one round claims: see [`BATCH`] and [`HELD_BATCH`].
    fn batch_size(&self) -> u32 {
        if self.holds_everything() {
            HELD_BATCH
        } else {
            BATCH
        }
    }

    /// A holding worker with no transport for people at all (a development setting): every
    /// email and text message is held.
    fn holds_everything(&self) -> bool {
        self.holds && self.transports.email.is_none() && self.transports.sms.is_none()
    }

    /// Records a round's outcomes under the lease they were claimed with, retrying a failed
    /// write a few times before giving up.
    async fn record(&self, lease: Lease, outcomes: &[(i64, Outcome)]) -> Result<(), StoreError> {
        let mut pauses = RECORD_RETRIES.iter();
        loop {
            match self.store.record_deliveries(lease, outcomes, Timestamp::now()).await {
                Ok(lost) => {
                    if !lost.is_empty() {
                        // The round outlasted its lease and another worker claimed these again:
                        // its claim decides their fate now (they may be sent twice).
                        tracing::warn!(ids = ?lost, "outcomes not recorded: the lease ran out and was taken over");
                    }
                    return Ok(());
                }
                Err(e) => match pauses.next() {
                    Some(pause) => {
                        tracing::warn!(error = %e, "recording deliveries failed; trying again");
                        tokio::time::sleep(*pause).await;
                    }
                    None => return Err(e),
                },
            }
        }
    }

    async fn attempt(&self, entry: &OutboxEntry) -> Outcome {
        let message = &entry.message;
        let Some(result) = self.transports.send(message).await else {
            print_held(message);
            return Outcome::Held;
        };
        match result {
            Ok(()) => {
                tracing::info!(id = message.id, channel = %message.channel, "message delivered");
                Outcome::Delivered { redact: true }
            }
            Err(SendError::Permanent(error)) => {
                tracing::warn!(id = message.id, %error, "message refused for good");
                Outcome::Failed { error }
            }
            Err(SendError::Temporary(error)) => self.failed(entry, error),
        }
    }

    /// The outcome of a temporary failure: a retry later, or giving up after the last attempt.
    fn failed(&self, entry: &OutboxEntry, error: String) -> Outcome {
        tracing::warn!(id = entry.message.id, attempt = entry.attempts, %error, "message delivery failed");
        let base = i64::try_from(self.retry_base.as_millis()).unwrap_or(i64::MAX);
        outbox::after_failure(entry.attempts, error, Timestamp::now(), base)
    }
}

/// Counts an attempt in `roster_outbox_attempts_total`, by channel and outcome.
fn count(channel: Channel, outcome: &Outcome) {
    let outcome = match outcome {
        Outcome::Delivered { .. } => "delivered",
        Outcome::Retry { .. } => "retry",
        Outcome::Failed { .. } => "failed",
        Outcome::Held => "held",
    };
    metrics::counter!("roster_outbox_attempts_total", "channel" => channel.to_string(), "outcome" => outcome)
        .increment(1);
}

/// Without a transport the console is where a developer reads what would have been sent.
fn print_held(message: &Message) {
    println!(
        "----- Held in the outbox: no {} transport is configured -----\nTo: {}\nSubject: {}\n\n{}\n-----",
        message.channel,
        message.recipient,
        message.subject,
        message.text.trim_end()
    );
}
