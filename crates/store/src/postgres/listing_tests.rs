//! Tests of listing and searching that need PostgreSQL itself: its pages against SQLite's, and
//! its planner.

use std::sync::Arc;

use roster_domain::user::{Cursor, ListFilter, User, UserId, UserQuery, UserSort};
use roster_domain::{Actor, Directory};
use sqlx::{Executor, Row};

use crate::postgres::fixtures::test_store;
use crate::postgres::sql::listing::tests::{awkward_directory, walk, AWKWARD_PREFIXES};
use crate::postgres::sql::listing::{count_statement, statement};

#[tokio::test]
async fn pages_are_the_same_as_sqlite_pages_for_every_list_and_search() {
    let Some((_db, store)) = test_store().await else { return };
    let data = tempfile::tempdir().unwrap();
    let sqlite = crate::sqlite::SqliteStore::open(data.path()).await.unwrap();
    let users = awkward_directory();
    let postgres = Directory::new(Arc::new(store));
    let sqlite = Directory::new(Arc::new(sqlite));
    for directory in [&postgres, &sqlite] {
        directory
            .create_users_bulk(&Actor::system("test"), users.len(), &mut users.chunks(100).map(<[User]>::to_vec))
            .await
            .unwrap();
    }
    for prefix in AWKWARD_PREFIXES {
        for sort in [UserSort::DisplayName, UserSort::Username] {
            for descending in [false, true] {
                for deleted in [false, true] {
                    let label = format!("{prefix:?} {sort:?} desc={descending} deleted={deleted}");
                    let pages = walk(&postgres, prefix, sort, descending, deleted).await;
                    let lite = walk(&sqlite, prefix, sort, descending, deleted).await;
                    assert!(lite == pages, "{label}: SQLite's pages differ from these");
                }
            }
        }
    }
}

#[tokio::test]
async fn every_search_source_and_sparse_filter_can_be_read_from_an_index() {
    let Some((_db, store)) = test_store().await else { return };
    let cursor = Cursor { key: "m".into(), id: UserId::random() };
    let mut conn = store.pool.acquire().await.unwrap();
    // With sequential scans priced out, a plan that still holds one has no index to use.
    conn.execute("set enable_seqscan = off").await.unwrap();
    let lists = [
        (false, ListFilter::All),
        (false, ListFilter::Administrators),
        (false, ListFilter::Blocked),
        (true, ListFilter::All),
    ];
    for search in [None, Some("z"), Some("zed")] {
        for sort in [UserSort::DisplayName, UserSort::Username] {
            for (deleted, filter) in lists {
                let query = UserQuery {
                    search: search.map(str::to_string),
                    sort,
                    descending: true,
                    after: Some(cursor.clone()),
                    before: None,
                    deleted,
                    filter,
                    limit: 51,
                };
                let label = format!("{search:?} {sort:?} deleted={deleted} {filter:?}");
                for (sql, params) in [statement(&query).unwrap(), count_statement(&query, 10_000).unwrap()] {
                    let plan: Vec<String> = sqlx::query_with(&format!("explain {sql}"), params.into_arguments())
                        .fetch_all(&mut *conn)
                        .await
                        .unwrap()
                        .iter()
                        .map(|row| row.get::<String, _>(0))
                        .collect();
                    let plan = plan.join("\n");
                    assert!(!plan.contains("Seq Scan"), "{label}:\n{plan}");
                }
            }
        }
    }
}
