//! Changes to many users at once: bulk loads, and imports that apply batch after batch in one
//! transaction.

use async_trait::async_trait;
use roster_domain::audit::AuditEntry;
use roster_domain::store::{ImportStore, UserBatches, UserWrite};
use roster_domain::user::User;
use roster_domain::StoreError;

use super::users::{aliases_named, insert_rows, update_row, users_where, write_rename, write_rest, Accepted};
use super::{audit, Connection, Store};

/// Writes one batch's creations and updates.
async fn write(conn: &mut Connection, writes: Vec<UserWrite>) -> Result<(), StoreError> {
    let mut created: Vec<User> = Vec::new();
    let mut created_audit: Vec<AuditEntry> = Vec::new();
    let mut updates = Vec::new();
    for write in writes {
        match write {
            UserWrite::Create { user, audit } => {
                created.push(user);
                created_audit.push(audit);
            }
            UserWrite::Update { before, after, audit, messages, alias_until } => {
                updates.push((before, after, audit, messages, alias_until));
            }
        }
    }
    insert_rows(conn, &created).await?;
    audit::insert_many(conn, &created_audit.iter().collect::<Vec<_>>()).await?;
    for (before, after, _, _, alias_until) in &updates {
        update_row(conn, before, after).await?;
        if let Some(until) = alias_until {
            write_rename(conn, before, after, *until).await?;
        }
    }
    let accepted: Vec<Accepted<'_>> =
        updates.iter().map(|(before, after, audit, messages, _)| Accepted { before, after, audit, messages }).collect();
    write_rest(conn, &accepted).await
}

#[async_trait]
impl ImportStore for Store {
    async fn insert_users_bulk(
        &self,
        batches: &mut (dyn Iterator<Item = Vec<User>> + Send),
        entry: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.bulk_load(batches, entry).await
    }

    /// A dry run reads one snapshot and holds up no writer. An import locks each batch's users
    /// as it reads them, so that a save on another node waits for the import instead of being
    /// overwritten by it (on SQLite the import holds the write lock from its start).
    async fn apply_user_batches(&self, batches: &mut dyn UserBatches) -> Result<bool, StoreError> {
        let dry_run = batches.dry_run();
        let mut tx = if dry_run { self.begin_snapshot().await? } else { self.begin_write().await? };
        while let Some(names) = batches.next_batch() {
            let keys: Vec<String> = names.iter().map(|n| n.as_str().to_string()).collect();
            let stored = users_where(&mut tx, "username", &keys, !dry_run).await?;
            let aliases = aliases_named(&mut tx, &keys).await?;
            let writes = batches.plan(stored, aliases);
            if !dry_run {
                write(&mut tx, writes).await?;
            }
        }
        if !dry_run && batches.commit() {
            tx.commit().await?;
            Ok(true)
        } else {
            tx.rollback().await?;
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::audit::{AuditAction, AuditQuery};
    use roster_domain::store::{AuditStore, UserStore};

    use super::super::fixtures::{audit, test_store, user};
    use super::*;

    fn all_audit() -> AuditQuery {
        AuditQuery { target: None, limit: 1000, ..AuditQuery::default() }
    }

    #[tokio::test]
    async fn a_bulk_load_into_an_empty_directory_is_all_or_nothing_and_otherwise_batch_by_batch() {
        let Some((_db, store)) = test_store().await else { return };
        let good: Vec<User> = (0..1200).map(user).collect();
        let clash = vec![user(5000), user(1)];
        let mut batches = vec![good.clone(), clash.clone()].into_iter();
        let refused = store.insert_users_bulk(&mut batches, &audit(AuditAction::UserCreated)).await.unwrap_err();
        assert!(matches!(refused, StoreError::Duplicate("username")), "{refused:?}");
        assert_eq!(store.count_users().await.unwrap(), 0, "nothing of a failed first load stays");
        assert!(store.list_audit(&all_audit()).await.unwrap().is_empty());

        let mut seeded = good[0].clone();
        seeded.contact.alternate_emails = vec!["first@fabrikam.com".into()];
        store
            .insert_users_bulk(&mut std::iter::once(vec![seeded.clone()]), &audit(AuditAction::UserCreated))
            .await
            .unwrap();
        assert_eq!(store.get_user(seeded.id).await.unwrap(), Some(seeded));
        let mut batches = vec![good[1..600].to_vec(), clash].into_iter();
        store.insert_users_bulk(&mut batches, &audit(AuditAction::UserCreated)).await.unwrap_err();
        assert_eq!(store.count_users().await.unwrap(), 600, "into a directory with users, earlier batches stay");
        assert_eq!(store.list_audit(&all_audit()).await.unwrap().len(), 2, "with the load's one audit record");
    }
}
