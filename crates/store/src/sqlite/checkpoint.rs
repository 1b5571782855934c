//! WAL checkpoints off the commit path. By default SQLite copies the write-ahead log back into
//! the database file inside whichever commit takes the log past a thousand pages, so every few
//! commits one of them (and every save waiting on it) also pays for the copy and its flush.
//! Here a connection of its own checkpoints a few times a second without ever holding the
//! write lock (a passive checkpoint), and the writer only checkpoints itself as a safety net,
//! when the log has grown far past what the background pass keeps it to.

use std::sync::Mutex;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Log pages after which the writer checkpoints within a commit after all (about 80 MB):
/// reached only if the background pass cannot keep up or could not connect.
pub(crate) const WRITER_AUTOCHECKPOINT_PAGES: &str = "20000";

/// How often the background pass runs; one with nothing to copy costs a read of the log's
/// header.
const EVERY: Duration = Duration::from_millis(200);

/// The background checkpoints of one store. They stop when it is closed, or when the last
/// clone of the store is dropped.
pub(crate) struct Checkpointer {
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Starts checkpointing `options`' database on a connection of its own; without one (it
    /// could not connect), the writer's own checkpoints remain.
    pub(crate) async fn start(options: SqliteConnectOptions) -> Checkpointer {
        let (stop, mut stopped) = watch::channel(false);
        let task = match options.connect().await {
            Ok(mut conn) => Some(tokio::spawn(async move {
                let mut tick = tokio::time::interval(EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = stopped.changed() => break,
                    }
                    if let Err(e) = checkpoint(&mut conn).await {
                        tracing::debug!(error = %e, "a background checkpoint failed; the next one retries");
                    }
                }
                // The last connection to close checkpoints what is left and removes the log.
                let _ = conn.close().await;
            })),
            Err(e) => {
                tracing::warn!(error = %e, "no background checkpoints: the writer checkpoints as it commits");
                None
            }
        };
        Checkpointer { stop, task: Mutex::new(task) }
    }

    /// Stops the checkpoints and closes their connection.
    pub(crate) async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Copies what the log holds into the database file, as far as no reader still needs it.
async fn checkpoint(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    sqlx::query("pragma wal_checkpoint(passive)").execute(conn).await.map(drop)
}

#[cfg(test)]
mod tests {
    use roster_domain::store::ImportStore;
    use std::time::Instant;

    use roster_domain::audit::AuditAction;

    use crate::sqlite::fixtures::{audit, user};
    use crate::sqlite::{SqliteStore, DATABASE_FILE};

    #[tokio::test]
    async fn commits_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let pages: i64 = sqlx::query_scalar("pragma wal_autocheckpoint").fetch_one(&store.writer).await.unwrap();
        assert_eq!(pages.to_string(), super::WRITER_AUTOCHECKPOINT_PAGES);
        let file = dir.path().join(DATABASE_FILE);
        let size = || std::fs::metadata(&file).unwrap().len();
        let before = size();
        let entry = audit(AuditAction::UserCreated);
        // A few hundred pages: far below the writer's own threshold, so only the background
        // pass can move them into the file.
        let mut batches = (0..4).map(|b| (0..500).map(|i| user(b * 500 + i)).collect::<Vec<_>>());
        store.insert_users_bulk(&mut batches, &entry).await.unwrap();
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while size() <= before {
            assert!(Instant::now() < deadline, "the database file stayed at {before} bytes");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        store.close().await;
        let log = dir.path().join(format!("{DATABASE_FILE}-wal"));
        let left = std::fs::metadata(&log).map_or(0, |m| m.len());
        assert_eq!(left, 0, "closing emptied the log into the database file");
    }
}
