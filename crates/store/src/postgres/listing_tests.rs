//! Tests of listing and searching on PostgreSQL itself: its indexes and its planner.

#[allow(unused_imports)]
use roster_domain::store::*;
use std::sync::Arc;

use roster_domain::contact::ContactInfo;
use roster_domain::user::{sort_key, User, UserId, UserPage, Username};
use roster_domain::{Actor, Directory, RoleSet, Timestamp};
use sqlx::{Executor, Row};

use roster_domain::user::{Cursor, UserQuery, UserSort};

use crate::postgres::fixtures::test_store;
use crate::postgres::sql::listing::statement;

fn person(i: usize, first: &str, last: &str, alternate: Option<String>) -> User {
    User {
        id: UserId::random(),
        username: Username::from_stored(format!("{}.{}{i}@contoso.com", first.to_lowercase(), last.to_lowercase())),
        contact: ContactInfo {
            display_name: format!("{first} {last}"),
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            alternate_emails: alternate.into_iter().collect(),
            ..ContactInfo::default()
        },
        roles: RoleSet::NONE,
        enabled: true,
        must_change_password: false,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        updated_by: "test".into(),
        version: 1,
        deleted_at: None,
    }
}

/// The answer by brute force: every matching user of the list, fully sorted.
fn expected(users: &[User], prefix: &str, sort: UserSort, descending: bool, deleted: bool) -> Vec<UserId> {
    let starts = |v: &str| v.to_lowercase().starts_with(prefix);
    let mut hits: Vec<(String, UserId)> = users
        .iter()
        .filter(|u| u.deleted_at.is_some() == deleted)
        .filter(|u| {
            let c = &u.contact;
            starts(&c.display_name)
                || c.first_name.as_deref().is_some_and(starts)
                || c.last_name.as_deref().is_some_and(starts)
                || starts(u.username.as_str())
                || c.alternate_emails.iter().any(|a| starts(a))
        })
        .map(|u| {
            let key = match sort {
                UserSort::DisplayName => sort_key(&u.contact.display_name),
                UserSort::Username => u.username.to_string(),
            };
            (key, u.id)
        })
        .collect();
    hits.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.to_string().cmp(&b.1.to_string())));
    if descending {
        hits.reverse();
    }
    hits.into_iter().map(|(_, id)| id).collect()
}

/// Every page forward from the start, then every page back from the last one.
async fn walk(
    directory: &Directory,
    prefix: &str,
    sort: UserSort,
    descending: bool,
    deleted: bool,
) -> (Vec<Vec<UserId>>, Vec<Vec<UserId>>) {
    let actor = Actor::system("test");
    let query = |after, before| UserQuery {
        search: Some(prefix.to_string()).filter(|p| !p.is_empty()),
        sort,
        descending,
        after,
        before,
        deleted,
        limit: 50,
    };
    let ids = |page: &UserPage| page.users.iter().map(|u| u.id).collect::<Vec<_>>();
    let mut forward = Vec::new();
    let mut after = None;
    let mut before = None;
    loop {
        let page = directory.list_users(&actor, query(after.clone(), None)).await.unwrap();
        forward.push(ids(&page));
        before = page.previous.clone().or(before);
        after = page.next.clone();
        if after.is_none() {
            break;
        }
    }
    let mut backward = vec![forward.last().cloned().unwrap_or_default()];
    while let Some(cursor) = before {
        let page = directory.list_users(&actor, query(None, Some(cursor))).await.unwrap();
        backward.insert(0, ids(&page));
        before = page.previous.clone();
    }
    (forward, backward)
}

#[tokio::test]
async fn searches_page_exactly_like_a_full_sort_in_every_order() {
    let Some((_db, store)) = test_store().await else { return };
    let mut users = Vec::new();
    // 6,000 matches on the last name, scattered through the list.
    for i in 0..6_000 {
        let first = ["Ann", "Bob", "Cy", "Dee"][i % 4];
        users.push(person(i, first, "Zed", None));
    }
    // Display-name matches and a few alternate-address matches for "zed" and "ze".
    for i in 0..70 {
        users.push(person(10_000 + i, "Zedd", "Quill", None));
        users.push(person(20_000 + i, "Mia", "Vos", (i % 7 == 0).then(|| format!("zed.alt{i}@fabrikam.com"))));
    }
    let directory = Directory::new(Arc::new(store));
    directory
        .create_users_bulk(&Actor::system("test"), users.len(), &mut users.chunks(1000).map(<[User]>::to_vec))
        .await
        .unwrap();

    for prefix in ["zed", "ze", "z", "vos", "mia.vos2000", "quill", "nomatch"] {
        for sort in [UserSort::DisplayName, UserSort::Username] {
            for descending in [false, true] {
                let want = expected(&users, prefix, sort, descending, false);
                let (forward, backward) = walk(&directory, prefix, sort, descending, false).await;
                assert_eq!(forward.concat(), want, "{prefix} {sort:?} desc={descending}");
                assert_eq!(backward.concat(), want, "back: {prefix} {sort:?} desc={descending}");
            }
        }
    }
}

/// A directory with what makes searches hard: several matching addresses per user,
/// deleted users (whose addresses match only in Deleted users), names without first or
/// last name, names beyond ASCII, equal display names told apart by id.
fn awkward_directory() -> Vec<User> {
    let mut users = Vec::new();
    let firsts = ["Ann", "Åsa", "Zoë", "Zed", "Émile", "Bob", "zed", "Zedekiah"];
    let lasts = ["Zed", "Zedd", "Østergaard", "Quill", "Zander", "Vos"];
    for i in 0..700 {
        let (first, last) = (firsts[i % firsts.len()], lasts[i / firsts.len() % lasts.len()]);
        let mut u = person(i, first, last, None);
        if i % 5 == 0 {
            u.contact.alternate_emails =
                (0..3).map(|n| format!("zed{n}.{i}@fabrikam.com")).chain(["other@fabrikam.com".into()]).collect();
        }
        if i % 9 == 0 {
            u.contact.first_name = None;
            u.contact.display_name = format!("Zed Same {}", i % 2);
        }
        if i % 11 == 0 {
            u.contact.last_name = None;
        }
        if i % 13 == 0 {
            u.deleted_at = Some(Timestamp(i as i64));
        }
        users.push(u);
    }
    users
}

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
    for prefix in ["", "z", "ze", "zed", "zed1", "zed2.", "øs", "émi", "åsa", "zoë", "other", "ann.", "nomatch"] {
        for sort in [UserSort::DisplayName, UserSort::Username] {
            for descending in [false, true] {
                for deleted in [false, true] {
                    let label = format!("{prefix:?} {sort:?} desc={descending} deleted={deleted}");
                    let pages = walk(&postgres, prefix, sort, descending, deleted).await;
                    if !prefix.is_empty() {
                        let want = expected(&users, prefix, sort, descending, deleted);
                        assert!(pages.0.concat() == want, "{label}: not the full sort's order");
                    }
                    let lite = walk(&sqlite, prefix, sort, descending, deleted).await;
                    assert!(lite == pages, "{label}: SQLite's pages differ from these (and the full sort's)");
                }
            }
        }
    }
}

#[tokio::test]
async fn several_matching_addresses_of_one_user_crowd_no_one_out() {
    let Some((_db, store)) = test_store().await else { return };
    let data = tempfile::tempdir().unwrap();
    let sqlite = crate::sqlite::SqliteStore::open(data.path()).await.unwrap();
    let mut many = person(1, "Amy", "Adams", None);
    many.contact.alternate_emails = (0..3).map(|n| format!("zzz{n}@fabrikam.com")).collect();
    let one = person(2, "Ben", "Brown", Some("zzz9@fabrikam.com".into()));
    let users = vec![many, one];
    let postgres = Directory::new(Arc::new(store));
    let sqlite = Directory::new(Arc::new(sqlite));
    for (engine, directory) in [("PostgreSQL", &postgres), ("SQLite", &sqlite)] {
        directory.create_users_bulk(&Actor::system("test"), 2, &mut std::iter::once(users.clone())).await.unwrap();
        let page = directory
            .list_users(
                &Actor::system("test"),
                UserQuery { search: Some("zzz".into()), limit: 2, ..UserQuery::default() },
            )
            .await
            .unwrap();
        let ids: Vec<UserId> = page.users.iter().map(|u| u.id).collect();
        assert_eq!(ids, [users[0].id, users[1].id], "{engine}");
    }
}

#[tokio::test]
async fn every_search_source_can_be_read_from_an_index() {
    let Some((_db, store)) = test_store().await else { return };
    let cursor = Cursor { key: "m".into(), id: UserId::random() };
    let mut conn = store.pool.acquire().await.unwrap();
    // With sequential scans priced out, a plan that still holds one has no index to use.
    conn.execute("set enable_seqscan = off").await.unwrap();
    for search in [None, Some("z"), Some("zed")] {
        for sort in [UserSort::DisplayName, UserSort::Username] {
            for deleted in [false, true] {
                let query = UserQuery {
                    search: search.map(str::to_string),
                    sort,
                    descending: true,
                    after: Some(cursor.clone()),
                    before: None,
                    deleted,
                    limit: 51,
                };
                let (sql, params) = statement(&query).unwrap();
                let plan: Vec<String> = sqlx::query_with(&format!("explain {sql}"), params.into_arguments())
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap()
                    .iter()
                    .map(|row| row.get::<String, _>(0))
                    .collect();
                let plan = plan.join("\n");
                assert!(!plan.contains("Seq Scan"), "{search:?} {sort:?} deleted={deleted}:\n{plan}");
            }
        }
    }
}
