//! Tests of listing and searching on SQLite itself: its indexes and its planner.

#[allow(unused_imports)]
use roster_domain::store::*;
use std::sync::Arc;

use roster_domain::contact::ContactInfo;
use roster_domain::user::{sort_key, User, UserId, UserPage, Username};
use roster_domain::{Actor, Directory, RoleSet, Timestamp};

use roster_domain::user::{UserQuery, UserSort};

use crate::sqlite::SqliteStore;

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

/// The answer by brute force: every matching user, fully sorted.
fn expected(users: &[User], prefix: &str, sort: UserSort, descending: bool) -> Vec<UserId> {
    let starts = |v: &str| v.to_lowercase().starts_with(prefix);
    let mut hits: Vec<(String, UserId)> = users
        .iter()
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

async fn walk(directory: &Directory, prefix: &str, sort: UserSort, descending: bool) -> (Vec<UserId>, Vec<UserId>) {
    let actor = Actor::system("test");
    let query = |after, before| UserQuery {
        search: Some(prefix.to_string()),
        sort,
        descending,
        after,
        before,
        deleted: false,
        limit: 50,
    };
    let mut forward = Vec::new();
    let mut pages: Vec<UserPage> = Vec::new();
    let mut after = None;
    loop {
        let page = directory.list_users(&actor, query(after.clone(), None)).await.unwrap();
        forward.extend(page.users.iter().map(|u| u.id));
        after = page.next.clone();
        pages.push(page);
        if after.is_none() {
            break;
        }
    }
    let mut backward = Vec::new();
    let mut before = pages.last().and_then(|p| p.previous.clone());
    let mut last = pages.last().map(|p| p.users.iter().map(|u| u.id).collect::<Vec<_>>()).unwrap_or_default();
    while let Some(cursor) = before {
        let page = directory.list_users(&actor, query(None, Some(cursor))).await.unwrap();
        let ids: Vec<UserId> = page.users.iter().map(|u| u.id).collect();
        backward.splice(0..0, last);
        last = ids;
        before = page.previous.clone();
    }
    backward.splice(0..0, last);
    (forward, backward)
}

#[tokio::test]
async fn searches_page_exactly_like_a_full_sort_in_every_order() {
    let data = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(data.path()).await.unwrap();
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
    // People with several matching addresses, who must not crowd others off a page.
    for i in 0..60 {
        let mut many = person(30_000 + i, "Ola", "Berg", None);
        many.contact.alternate_emails = (0..3).map(|n| format!("zed{i}.{n}@fabrikam.com")).collect();
        users.push(many);
    }
    let index_sql = "select group_concat(sql, ';') from (select sql from sqlite_master \
                     where type = 'index' and tbl_name in ('users', 'alternate_emails') order by name)";
    let before: String = sqlx::query_scalar(index_sql).fetch_one(&store.readers).await.unwrap();
    let readers = store.readers.clone();
    let directory = Directory::new(Arc::new(store));
    directory
        .create_users_bulk(&Actor::system("test"), users.len(), &mut users.chunks(1000).map(<[User]>::to_vec))
        .await
        .unwrap();
    let after: String = sqlx::query_scalar(index_sql).fetch_one(&readers).await.unwrap();
    assert_eq!(after, before, "a bulk load into an empty directory rebuilds exactly the same indexes");

    for prefix in ["zed", "ze", "z", "vos", "mia.vos2000", "quill", "nomatch"] {
        for sort in [UserSort::DisplayName, UserSort::Username] {
            for descending in [false, true] {
                let want = expected(&users, prefix, sort, descending);
                let (forward, backward) = walk(&directory, prefix, sort, descending).await;
                assert_eq!(forward.len(), want.len(), "{prefix} {sort:?} desc={descending}");
                assert_eq!(forward, want, "{prefix} {sort:?} desc={descending}");
                assert_eq!(backward, want, "back: {prefix} {sort:?} desc={descending}");
            }
        }
    }
}
