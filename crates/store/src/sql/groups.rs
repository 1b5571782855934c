//! Groups, their members and owners, and the closure of their nesting.
//!
//! `group_closure` holds every (ancestor, descendant) pair of active groups with the number of
//! nesting paths between them, each group paired with itself once. Nesting `child` in `parent`
//! adds, for every ancestor `a` of `parent` and descendant `d` of `child`, paths(a, parent) ×
//! paths(child, d) to paths(a, d); removing the edge subtracts the same products, and a pair
//! whose count reaches zero goes. In a graph without cycles the rows read while doing so are
//! never among those written, so each step is one statement.

use std::collections::HashSet;

use async_trait::async_trait;
use roster_domain::audit::{AuditAction, AuditEntry};
use roster_domain::group::{Group, GroupFilter, GroupId, GroupOrder, GroupQuery, MemberId, MemberRef};
use roster_domain::store::{GroupStore, MemberChange, MemberChanged};
use roster_domain::user::{sort_key, UserId};
use roster_domain::{StoreError, Timestamp};
use sqlx::Row as _;
use uuid::Uuid;

use super::rows::{parse_id, Params};
use super::{audit, Connection, Row, Store, DIALECT, LOCK_NESTING};

const GROUP_COLUMNS: &str =
    "id, display_name, description, mail_nickname, external_id, created_at, updated_at, updated_by, version, deleted_at";

/// Ids per `in (…)` list.
const IDS_PER_STATEMENT: usize = DIALECT.rows_per_statement(500, 2);

/// Groups under one whose member pages are read group by group, each along its own key; past
/// this many, one statement sorts their members instead (SQLite takes at most 500 selects in
/// one compound statement).
const PAGED_DESCENDANTS: usize = 100;

fn group_id(text: &str) -> Result<GroupId, StoreError> {
    text.parse().map_err(|e| StoreError::backend(format!("bad group id {text:?}: {e}")))
}

fn group_from_row(row: &Row) -> Result<Group, StoreError> {
    Ok(Group {
        id: group_id(&row.try_get::<String, _>("id")?)?,
        display_name: row.try_get("display_name")?,
        description: row.try_get("description")?,
        mail_nickname: row.try_get("mail_nickname")?,
        external_id: row.try_get("external_id")?,
        created_at: Timestamp(row.try_get("created_at")?),
        updated_at: Timestamp(row.try_get("updated_at")?),
        updated_by: row.try_get("updated_by")?,
        version: row.try_get("version")?,
        deleted_at: row.try_get::<Option<i64>, _>("deleted_at")?.map(Timestamp),
    })
}

/// `column in ($n, …)` over `values`, its placeholders pushed to `params`.
fn in_list(params: &mut Params<'_>, column: &str, values: &[String]) -> Result<String, StoreError> {
    let placeholders = values.iter().map(|v| params.push(v.clone())).collect::<Result<Vec<_>, _>>()?;
    Ok(format!("{column} in ({})", placeholders.join(", ")))
}

/// The condition a filter puts on `groups`.
fn filter_sql(params: &mut Params<'_>, filter: &GroupFilter) -> Result<String, StoreError> {
    let range = |params: &mut Params<'_>, column: &str, prefix: String| -> Result<String, StoreError> {
        let low = params.push(prefix.clone())?;
        let high = params.push(format!("{prefix}\u{10FFFF}"))?;
        Ok(format!("{column} >= {low} and {column} < {high}"))
    };
    Ok(match filter {
        GroupFilter::DisplayNameIs(v) => format!("display_key = {}", params.push(sort_key(v))?),
        GroupFilter::DisplayNameStarts(v) => range(params, "display_key", sort_key(v))?,
        GroupFilter::NicknameIs(v) => format!("nickname_key = {}", params.push(v.to_lowercase())?),
        GroupFilter::NicknameStarts(v) => range(params, "nickname_key", v.to_lowercase())?,
        GroupFilter::ExternalIdIs(v) => format!("external_id = {}", params.push(v.clone())?),
        GroupFilter::IdIs(id) => format!("id = {}", params.push(id.to_string())?),
    })
}

/// Adds the nesting of `child` in `parent` to the closure.
async fn close_edge(conn: &mut Connection, parent: GroupId, child: GroupId) -> Result<(), StoreError> {
    sqlx::query(
        "insert into group_closure (ancestor_id, descendant_id, paths) \
         select a.ancestor_id, d.descendant_id, a.paths * d.paths \
         from group_closure a join group_closure d on d.ancestor_id = $2 \
         where a.descendant_id = $1 \
         on conflict (descendant_id, ancestor_id) do update set paths = group_closure.paths + excluded.paths",
    )
    .bind(parent.to_string())
    .bind(child.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes the nesting of `child` in `parent` out of the closure.
async fn open_edge(conn: &mut Connection, parent: GroupId, child: GroupId) -> Result<(), StoreError> {
    sqlx::query(
        "update group_closure set paths = paths - ( \
             select a.paths * d.paths from group_closure a, group_closure d \
             where a.descendant_id = $1 and a.ancestor_id = group_closure.ancestor_id \
             and d.ancestor_id = $2 and d.descendant_id = group_closure.descendant_id) \
         where ancestor_id in (select ancestor_id from group_closure where descendant_id = $1) \
         and descendant_id in (select descendant_id from group_closure where ancestor_id = $2)",
    )
    .bind(parent.to_string())
    .bind(child.to_string())
    .execute(&mut *conn)
    .await?;
    sqlx::query("delete from group_closure where paths <= 0").execute(&mut *conn).await?;
    Ok(())
}

/// Nests `child` in `parent` unless it is there already; [`StoreError::Cycle`] when `child`
/// holds `parent` at any depth. Returns whether it was added.
async fn nest(conn: &mut Connection, parent: GroupId, child: GroupId) -> Result<bool, StoreError> {
    let cycle: bool =
        sqlx::query_scalar("select exists (select 1 from group_closure where descendant_id = $1 and ancestor_id = $2)")
            .bind(parent.to_string())
            .bind(child.to_string())
            .fetch_one(&mut *conn)
            .await?;
    if cycle || parent == child {
        return Err(StoreError::Cycle);
    }
    let active: bool =
        sqlx::query_scalar("select exists (select 1 from group_closure where descendant_id = $1 and ancestor_id = $1)")
            .bind(child.to_string())
            .fetch_one(&mut *conn)
            .await?;
    if !active {
        return Err(StoreError::NotFound);
    }
    let added = sqlx::query("insert into group_nesting (parent_id, child_id) values ($1, $2) on conflict do nothing")
        .bind(parent.to_string())
        .bind(child.to_string())
        .execute(&mut *conn)
        .await?;
    if added.rows_affected() == 0 {
        return Ok(false);
    }
    close_edge(conn, parent, child).await?;
    Ok(true)
}

/// Takes `child` out of `parent`; returns whether it was there.
async fn unnest(conn: &mut Connection, parent: GroupId, child: GroupId) -> Result<bool, StoreError> {
    let removed = sqlx::query("delete from group_nesting where parent_id = $1 and child_id = $2")
        .bind(parent.to_string())
        .bind(child.to_string())
        .execute(&mut *conn)
        .await?;
    if removed.rows_affected() == 0 {
        return Ok(false);
    }
    open_edge(conn, parent, child).await?;
    Ok(true)
}

/// Adds users to a group, skipping those in it; returns those added.
async fn insert_members(conn: &mut Connection, group: GroupId, users: &[UserId]) -> Result<Vec<UserId>, StoreError> {
    let mut added = Vec::new();
    for chunk in users.chunks(IDS_PER_STATEMENT) {
        let mut params = Params::default();
        let group = params.push(group.to_string())?;
        let rows = chunk
            .iter()
            .map(|u| Ok(format!("({group}, {})", params.push(u.to_string())?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let sql = format!(
            "insert into group_members (group_id, user_id) values {} on conflict do nothing returning user_id",
            rows.join(", ")
        );
        for row in sqlx::query_with(&sql, params.into_arguments()).fetch_all(&mut *conn).await? {
            added.push(parse_id(&row.try_get::<String, _>("user_id")?)?);
        }
    }
    Ok(added)
}

/// Removes users from a group; returns those that were in it.
async fn delete_members(conn: &mut Connection, group: GroupId, users: &[UserId]) -> Result<Vec<UserId>, StoreError> {
    let mut removed = Vec::new();
    for chunk in users.chunks(IDS_PER_STATEMENT) {
        let mut params = Params::default();
        let group = params.push(group.to_string())?;
        let ids: Vec<String> = chunk.iter().map(UserId::to_string).collect();
        let sql = format!(
            "delete from group_members where group_id = {group} and {} returning user_id",
            in_list(&mut params, "user_id", &ids)?
        );
        for row in sqlx::query_with(&sql, params.into_arguments()).fetch_all(&mut *conn).await? {
            removed.push(parse_id(&row.try_get::<String, _>("user_id")?)?);
        }
    }
    Ok(removed)
}

/// Changes the owners of a group.
async fn change_owners(
    conn: &mut Connection,
    group: GroupId,
    add: &[UserId],
    remove: &[UserId],
) -> Result<(), StoreError> {
    for user in add {
        sqlx::query("insert into group_owners (group_id, user_id) values ($1, $2) on conflict do nothing")
            .bind(group.to_string())
            .bind(user.to_string())
            .execute(&mut *conn)
            .await?;
    }
    for user in remove {
        sqlx::query("delete from group_owners where group_id = $1 and user_id = $2")
            .bind(group.to_string())
            .bind(user.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The id page of a list: `select id, kind …` statements, each already in id order and
/// limited, merged into one; a user reached through two groups is listed once.
fn merged_page(sources: &[String], limit: &str) -> String {
    let pages: Vec<String> =
        sources.iter().enumerate().map(|(n, s)| format!("select id, kind from ({s}) as page{n}")).collect();
    format!("select distinct id, kind from ({}) as merged order by id limit {limit}", pages.join(" union all "))
}

fn member_from_row(row: &Row) -> Result<MemberId, StoreError> {
    let id: String = row.try_get("id")?;
    let kind: i64 = row.try_get("kind")?;
    Ok(if kind == 0 { MemberId::User(parse_id(&id)?) } else { MemberId::Group(group_id(&id)?) })
}

#[async_trait]
impl GroupStore for Store {
    async fn insert_group(&self, group: &Group, owners: &[UserId], entry: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "insert into groups (id, display_name, display_key, description, mail_nickname, nickname_key, external_id, \
             created_at, updated_at, updated_by, version, deleted_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(group.id.to_string())
        .bind(&group.display_name)
        .bind(sort_key(&group.display_name))
        .bind(&group.description)
        .bind(&group.mail_nickname)
        .bind(group.mail_nickname.to_lowercase())
        .bind(&group.external_id)
        .bind(group.created_at.millis())
        .bind(group.updated_at.millis())
        .bind(&group.updated_by)
        .bind(group.version)
        .bind(group.deleted_at.map(|t| t.millis()))
        .execute(&mut *tx)
        .await?;
        if group.deleted_at.is_none() {
            sqlx::query("insert into group_closure (ancestor_id, descendant_id, paths) values ($1, $1, 1)")
                .bind(group.id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        change_owners(&mut tx, group.id, owners, &[]).await?;
        audit::insert(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

    async fn get_group(&self, id: GroupId) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query(&format!("select {GROUP_COLUMNS} from groups where id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(group_from_row).transpose()
    }

    async fn get_groups(&self, ids: &[GroupId]) -> Result<Vec<Group>, StoreError> {
        let mut groups = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let mut params = Params::default();
            let keys: Vec<String> = chunk.iter().map(GroupId::to_string).collect();
            let sql = format!("select {GROUP_COLUMNS} from groups where {}", in_list(&mut params, "id", &keys)?);
            for row in sqlx::query_with(&sql, params.into_arguments()).fetch_all(self.reader()).await? {
                groups.push(group_from_row(&row)?);
            }
        }
        Ok(groups)
    }

    async fn list_groups(&self, query: &GroupQuery) -> Result<Vec<Group>, StoreError> {
        let mut params = Params::default();
        let state = if query.deleted { "is not null" } else { "is null" };
        let mut sql = format!("select {GROUP_COLUMNS} from groups where deleted_at {state}");
        if let Some(filter) = &query.filter {
            sql.push_str(&format!(" and {}", filter_sql(&mut params, filter)?));
        }
        let (cmp, direction) = if query.descending { ("<", "desc") } else { (">", "asc") };
        match query.order {
            GroupOrder::DisplayName => {
                if let Some(after) = &query.after {
                    let (key, id) = (params.push(after.key.clone())?, params.push(after.id.to_string())?);
                    sql.push_str(&format!(" and (display_key, id) {cmp} ({key}, {id})"));
                }
                sql.push_str(&format!(" order by display_key {direction}, id {direction}"));
            }
            GroupOrder::Id => {
                if let Some(after) = &query.after {
                    sql.push_str(&format!(" and id {cmp} {}", params.push(after.id.to_string())?));
                }
                sql.push_str(&format!(" order by id {direction}"));
            }
        }
        sql.push_str(&format!(" limit {}", params.push(i64::from(query.limit))?));
        if query.offset > 0 {
            let offset = i64::try_from(query.offset).map_err(StoreError::backend)?;
            sql.push_str(&format!(" offset {}", params.push(offset)?));
        }
        let rows = sqlx::query_with(&sql, params.into_arguments()).fetch_all(self.reader()).await?;
        rows.iter().map(group_from_row).collect()
    }

    async fn count_groups(&self, filter: Option<&GroupFilter>) -> Result<u64, StoreError> {
        let mut params = Params::default();
        let mut sql = "select count(*) from groups where deleted_at is null".to_string();
        if let Some(filter) = filter {
            sql.push_str(&format!(" and {}", filter_sql(&mut params, filter)?));
        }
        let count: i64 = sqlx::query_scalar_with(&sql, params.into_arguments()).fetch_one(self.reader()).await?;
        Ok(count as u64)
    }

    async fn save_group(&self, before: &Group, after: &Group, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let deleting = before.deleted_at.is_none() && after.deleted_at.is_some();
        if deleting {
            tx_lock_nesting(&mut tx).await?;
        }
        let updated = sqlx::query(
            "update groups set display_name = $1, display_key = $2, description = $3, mail_nickname = $4, \
             nickname_key = $5, external_id = $6, updated_at = $7, updated_by = $8, version = $9, deleted_at = $10 \
             where id = $11 and version = $12",
        )
        .bind(&after.display_name)
        .bind(sort_key(&after.display_name))
        .bind(&after.description)
        .bind(&after.mail_nickname)
        .bind(after.mail_nickname.to_lowercase())
        .bind(&after.external_id)
        .bind(after.updated_at.millis())
        .bind(&after.updated_by)
        .bind(after.version)
        .bind(after.deleted_at.map(|t| t.millis()))
        .bind(before.id.to_string())
        .bind(before.version)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            let current: Option<(String, i64)> =
                sqlx::query_as("select updated_by, updated_at from groups where id = $1")
                    .bind(before.id.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match current {
                Some((changed_by, at)) => StoreError::VersionConflict { changed_by, changed_at: Timestamp(at) },
                None => StoreError::NotFound,
            });
        }
        let id = before.id;
        if deleting {
            let edges: Vec<(String, String)> =
                sqlx::query_as("select parent_id, child_id from group_nesting where parent_id = $1 or child_id = $1")
                    .bind(id.to_string())
                    .fetch_all(&mut *tx)
                    .await?;
            for (parent, child) in edges {
                unnest(&mut tx, group_id(&parent)?, group_id(&child)?).await?;
            }
            sqlx::query("delete from group_closure where descendant_id = $1 or ancestor_id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        } else if before.deleted_at.is_some() && after.deleted_at.is_none() {
            sqlx::query("insert into group_closure (ancestor_id, descendant_id, paths) values ($1, $1, 1)")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        audit::insert_many(&mut tx, &entries.iter().collect::<Vec<_>>()).await?;
        Ok(tx.commit().await?)
    }

    async fn change_members(&self, group: GroupId, change: &MemberChange) -> Result<MemberChanged, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = apply_change(&mut tx, group, change).await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn member_refs(&self, ids: &[Uuid]) -> Result<Vec<MemberRef>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let keys: Vec<String> = chunk.iter().map(Uuid::to_string).collect();
            let mut params = Params::default();
            let users = in_list(&mut params, "id", &keys)?;
            let groups = in_list(&mut params, "id", &keys)?;
            let sql = format!(
                "select id, username as label, deleted_at, cast(0 as bigint) as kind from users where {users} \
                 union all select id, display_name || ' (' || id || ')', deleted_at, cast(1 as bigint) from groups \
                 where {groups}"
            );
            for row in sqlx::query_with(&sql, params.into_arguments()).fetch_all(self.reader()).await? {
                found.push(MemberRef {
                    id: member_from_row(&row)?,
                    label: row.try_get("label")?,
                    active: row.try_get::<Option<i64>, _>("deleted_at")?.is_none(),
                });
            }
        }
        Ok(found)
    }

    async fn change_many_members(&self, changes: &[(GroupId, MemberChange)]) -> Result<Vec<MemberChanged>, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut done = Vec::with_capacity(changes.len());
        for (group, change) in changes {
            done.push(apply_change(&mut tx, *group, change).await?);
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn list_members(
        &self,
        group: GroupId,
        transitive: bool,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<MemberId>, StoreError> {
        let descendants: Vec<String> = if transitive {
            sqlx::query_scalar("select descendant_id from group_closure where ancestor_id = $1")
                .bind(group.to_string())
                .fetch_all(self.reader())
                .await?
        } else {
            Vec::new()
        };
        let mut params = Params::default();
        let group = params.push(group.to_string())?;
        let after = after.map(|a| params.push(a.to_string())).transpose()?;
        let limit = params.push(i64::from(limit))?;
        let past = |column: &str| after.as_ref().map(|a| format!(" and {column} > {a}")).unwrap_or_default();
        // The bound goes on both sides of a join with users: PostgreSQL does not carry it across
        // the join's equality, and would otherwise merge from the start of the users' key, as
        // many rows as the page is deep (a quarter of a second half-way through 100,000).
        let users_past = |column: &str| format!("{}{}", past(column), past("u.id"));
        // Each group's own page, read along its primary key and stopping at the limit, rather
        // than every member of every group sorted: a page costs the same at any size and depth.
        let users_of = |group: &str| {
            format!(
                "select m.user_id as id, cast(0 as bigint) as kind from group_members m join users u on u.id = m.user_id \
                 where m.group_id = {group} and u.deleted_at is null{} order by m.user_id limit {limit}",
                users_past("m.user_id")
            )
        };
        let mut sources = Vec::new();
        if transitive && descendants.len() > PAGED_DESCENDANTS {
            sources.push(format!(
                "select distinct m.user_id as id, cast(0 as bigint) as kind from group_closure c \
                 join group_members m on m.group_id = c.descendant_id join users u on u.id = m.user_id \
                 where c.ancestor_id = {group} and u.deleted_at is null{} order by m.user_id limit {limit}",
                users_past("m.user_id")
            ));
        } else if transitive {
            for descendant in &descendants {
                let placeholder = params.push(descendant.clone())?;
                sources.push(users_of(&placeholder));
            }
        }
        if transitive {
            sources.push(format!(
                "select descendant_id as id, cast(1 as bigint) as kind from group_closure \
                 where ancestor_id = {group} and descendant_id <> {group}{} order by descendant_id limit {limit}",
                past("descendant_id")
            ));
        } else {
            sources.push(users_of(&group));
            sources.push(format!(
                "select child_id as id, cast(1 as bigint) as kind from group_nesting where parent_id = {group}{} \
                 order by child_id limit {limit}",
                past("child_id")
            ));
        }
        let rows =
            sqlx::query_with(&merged_page(&sources, &limit), params.into_arguments()).fetch_all(self.reader()).await?;
        rows.iter().map(member_from_row).collect()
    }

    async fn count_members(&self, group: GroupId) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "select (select count(*) from group_members m join users u on u.id = m.user_id \
                     where m.group_id = $1 and u.deleted_at is null) \
                  + (select count(*) from group_nesting where parent_id = $1)",
        )
        .bind(group.to_string())
        .fetch_one(self.reader())
        .await?;
        Ok(count as u64)
    }

    async fn members_among(&self, group: GroupId, candidates: &[MemberId]) -> Result<Vec<MemberId>, StoreError> {
        let mut found = Vec::new();
        for chunk in candidates.chunks(IDS_PER_STATEMENT) {
            let ids: Vec<String> = chunk.iter().map(|m| m.uuid().to_string()).collect();
            let mut params = Params::default();
            let group = params.push(group.to_string())?;
            let users = in_list(&mut params, "user_id", &ids)?;
            let children = in_list(&mut params, "child_id", &ids)?;
            let sql = format!(
                "select user_id as id, cast(0 as bigint) as kind from group_members where group_id = {group} and {users} \
                 union all select child_id, cast(1 as bigint) from group_nesting where parent_id = {group} and {children}"
            );
            for row in sqlx::query_with(&sql, params.into_arguments()).fetch_all(self.reader()).await? {
                found.push(member_from_row(&row)?);
            }
        }
        Ok(found)
    }

    async fn groups_of(
        &self,
        member: MemberId,
        transitive: bool,
        after: Option<GroupId>,
        limit: u32,
    ) -> Result<Vec<GroupId>, StoreError> {
        let mut params = Params::default();
        let id = params.push(member.uuid().to_string())?;
        let after = after.map(|a| params.push(a.to_string())).transpose()?;
        let past = |column: &str| after.as_ref().map(|a| format!(" and {column} > {a}")).unwrap_or_default();
        let limit = params.push(i64::from(limit))?;
        let sql = match (member, transitive) {
            (MemberId::User(_), false) => format!(
                "select m.group_id as id from group_members m join groups g on g.id = m.group_id \
                 where m.user_id = {id} and g.deleted_at is null{}{} order by m.group_id limit {limit}",
                past("m.group_id"),
                // On both sides of the join, as for member pages.
                past("g.id")
            ),
            (MemberId::User(_), true) => format!(
                "select distinct c.ancestor_id as id from group_members m \
                 join group_closure c on c.descendant_id = m.group_id \
                 where m.user_id = {id}{} order by c.ancestor_id limit {limit}",
                past("c.ancestor_id")
            ),
            (MemberId::Group(_), false) => format!(
                "select parent_id as id from group_nesting where child_id = {id}{} order by parent_id limit {limit}",
                past("parent_id")
            ),
            (MemberId::Group(_), true) => format!(
                "select ancestor_id as id from group_closure where descendant_id = {id} and ancestor_id <> {id}{} \
                 order by ancestor_id limit {limit}",
                past("ancestor_id")
            ),
        };
        let rows = sqlx::query_with(&sql, params.into_arguments()).fetch_all(self.reader()).await?;
        rows.iter().map(|row| group_id(&row.try_get::<String, _>("id")?)).collect()
    }

    async fn in_any_group(&self, user: UserId, groups: &[GroupId]) -> Result<bool, StoreError> {
        if groups.is_empty() {
            return Ok(false);
        }
        let mut params = Params::default();
        let user = params.push(user.to_string())?;
        let targets: Vec<String> = groups.iter().map(GroupId::to_string).collect();
        // From the policy's groups down to the user, one probe of the membership key per group,
        // never through the user's memberships: a prepared statement's generic plan cannot tell
        // a user in a thousand groups from one in three, and walking theirs cost such a user
        // two milliseconds at every reset.
        let sql = format!(
            "select exists (select 1 from group_closure c where {} and exists \
             (select 1 from group_members m where m.group_id = c.descendant_id and m.user_id = {user}{}))",
            in_list(&mut params, "c.ancestor_id", &targets)?,
            DIALECT.fence
        );
        Ok(sqlx::query_scalar_with(&sql, params.into_arguments()).fetch_one(self.reader()).await?)
    }

    async fn memberships_among(
        &self,
        users: &[UserId],
        groups: &[GroupId],
    ) -> Result<Vec<(UserId, GroupId)>, StoreError> {
        if users.is_empty() || groups.is_empty() {
            return Ok(Vec::new());
        }
        let mut params = Params::default();
        let users: Vec<String> = users.iter().map(UserId::to_string).collect();
        let targets: Vec<String> = groups.iter().map(GroupId::to_string).collect();
        let sql = format!(
            "select distinct m.user_id, c.ancestor_id from group_members m \
             join group_closure c on c.descendant_id = m.group_id where {} and {}",
            in_list(&mut params, "m.user_id", &users)?,
            in_list(&mut params, "c.ancestor_id", &targets)?
        );
        let rows = sqlx::query_with(&sql, params.into_arguments()).fetch_all(self.reader()).await?;
        rows.iter()
            .map(|row| {
                let user = parse_id(&row.try_get::<String, _>("user_id")?)?;
                let group = group_id(&row.try_get::<String, _>("ancestor_id")?)?;
                Ok((user, group))
            })
            .collect()
    }

    async fn list_owners(&self, group: GroupId) -> Result<Vec<UserId>, StoreError> {
        let rows: Vec<String> =
            sqlx::query_scalar("select user_id from group_owners where group_id = $1 order by user_id")
                .bind(group.to_string())
                .fetch_all(self.reader())
                .await?;
        rows.iter().map(|id| parse_id(id)).collect()
    }

    async fn is_owner(&self, group: GroupId, user: UserId) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar("select exists (select 1 from group_owners where group_id = $1 and user_id = $2)")
            .bind(group.to_string())
            .bind(user.to_string())
            .fetch_one(self.reader())
            .await?)
    }

    async fn groups_owned_by(&self, user: UserId) -> Result<Vec<GroupId>, StoreError> {
        let rows: Vec<String> =
            sqlx::query_scalar("select group_id from group_owners where user_id = $1 order by group_id")
                .bind(user.to_string())
                .fetch_all(self.reader())
                .await?;
        rows.iter().map(|id| group_id(id)).collect()
    }

    async fn purge_deleted_groups(&self, deleted_before: Timestamp, actor: &str) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let purged = sqlx::query(
            "delete from groups where deleted_at is not null and deleted_at < $1 returning id, display_name",
        )
        .bind(deleted_before.millis())
        .fetch_all(&mut *tx)
        .await?;
        let mut entries = Vec::with_capacity(purged.len());
        for row in &purged {
            let id = group_id(&row.try_get::<String, _>("id")?)?;
            let name: String = row.try_get("display_name")?;
            entries.push(AuditEntry {
                id: 0,
                at: Timestamp::now(),
                actor_id: None,
                actor_name: actor.to_string(),
                target_id: None,
                target_name: format!("{name} ({id})"),
                group_id: Some(id),
                action: AuditAction::GroupPurged,
                changes: Vec::new(),
                client_ip: None,
                request_id: None,
            });
        }
        audit::insert_many(&mut tx, &entries.iter().collect::<Vec<_>>()).await?;
        tx.commit().await?;
        Ok(purged.len() as u64)
    }
}

/// Applies a change to an active group's members and owners inside the caller's transaction.
async fn apply_change(tx: &mut Connection, group: GroupId, change: &MemberChange) -> Result<MemberChanged, StoreError> {
    let actor = change
        .add
        .iter()
        .chain(&change.remove)
        .map(|(_, entry)| entry)
        .chain(&change.owners_audit)
        .next()
        .map(|entry| entry.actor_name.clone());
    let touched = sqlx::query(
        "update groups set version = version + 1, updated_at = $1, updated_by = coalesce($2, updated_by) \
         where id = $3 and deleted_at is null",
    )
    .bind(Timestamp::now().millis())
    .bind(actor)
    .bind(group.to_string())
    .execute(&mut *tx)
    .await?;
    if touched.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    let nests_groups = change.add.iter().chain(&change.remove).any(|(m, _)| matches!(m, MemberId::Group(_)));
    if nests_groups {
        tx_lock_nesting(&mut *tx).await?;
    }
    let mut done = MemberChanged::default();
    // In id order, so that the writes walk the membership indexes' pages in order rather than
    // at random.
    let users = |list: &[(MemberId, AuditEntry)]| -> Vec<UserId> {
        let mut ids: Vec<UserId> =
            list.iter().filter_map(|(m, _)| if let MemberId::User(u) = m { Some(*u) } else { None }).collect();
        ids.sort_unstable();
        ids
    };
    for user in delete_members(&mut *tx, group, &users(&change.remove)).await? {
        done.removed.push(MemberId::User(user));
    }
    for (member, _) in &change.remove {
        if let MemberId::Group(child) = member {
            if unnest(&mut *tx, group, *child).await? {
                done.removed.push(*member);
            }
        }
    }
    for user in insert_members(&mut *tx, group, &users(&change.add)).await? {
        done.added.push(MemberId::User(user));
    }
    for (member, _) in &change.add {
        if let MemberId::Group(child) = member {
            if nest(&mut *tx, group, *child).await? {
                done.added.push(*member);
            }
        }
    }
    change_owners(&mut *tx, group, &change.add_owners, &change.remove_owners).await?;
    let (added, removed): (HashSet<&MemberId>, HashSet<&MemberId>) =
        (done.added.iter().collect(), done.removed.iter().collect());
    let mut entries: Vec<&AuditEntry> = Vec::new();
    entries.extend(change.add.iter().filter(|(m, _)| added.contains(m)).map(|(_, e)| e));
    entries.extend(change.remove.iter().filter(|(m, _)| removed.contains(m)).map(|(_, e)| e));
    entries.extend(&change.owners_audit);
    audit::insert_many(tx, &entries).await?;
    Ok(done)
}

/// Holds the nesting lock (see `LOCK_NESTING`) to the end of the transaction.
async fn tx_lock_nesting(conn: &mut Connection) -> Result<(), StoreError> {
    sqlx::query(LOCK_NESTING).execute(&mut *conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use roster_domain::store::{AuditStore, ImportStore, UserStore};
    use roster_domain::user::User;

    use super::super::fixtures::{audit, other_node, test_store, user};
    use super::*;

    fn group(i: usize) -> Group {
        Group {
            id: GroupId::random(),
            display_name: format!("Group {i}"),
            description: None,
            mail_nickname: format!("group{i}"),
            external_id: Some(format!("ext-{i}")),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            updated_by: "setup".into(),
            version: 1,
            deleted_at: None,
        }
    }

    fn adding(members: &[MemberId]) -> MemberChange {
        MemberChange {
            add: members.iter().map(|m| (*m, audit(AuditAction::MemberAdded))).collect(),
            ..Default::default()
        }
    }

    fn removing(members: &[MemberId]) -> MemberChange {
        MemberChange {
            remove: members.iter().map(|m| (*m, audit(AuditAction::MemberRemoved))).collect(),
            ..Default::default()
        }
    }

    async fn groups(store: &Store, n: usize) -> Vec<GroupId> {
        let mut ids = Vec::new();
        for i in 0..n {
            let g = group(i);
            store.insert_group(&g, &[], &audit(AuditAction::GroupCreated)).await.unwrap();
            ids.push(g.id);
        }
        ids
    }

    #[tokio::test]
    async fn members_are_added_once_listed_in_id_order_and_removed() {
        let Some((_db, store)) = test_store().await else { return };
        let users: Vec<_> = (0..5).map(user).collect();
        store.insert_users_bulk(&mut std::iter::once(users.clone()), &audit(AuditAction::UserCreated)).await.unwrap();
        let [g, child] = groups(&store, 2).await[..] else { unreachable!() };
        let ids: Vec<MemberId> = users.iter().map(|u| MemberId::User(u.id)).collect();
        let done = store.change_members(g, &adding(&ids[..3])).await.unwrap();
        assert_eq!(done.added.len(), 3);
        let done = store.change_members(g, &adding(&[ids[2], ids[3], MemberId::Group(child)])).await.unwrap();
        assert_eq!(done.added, vec![ids[3], MemberId::Group(child)], "a member already in is left alone");

        let mut expected: Vec<MemberId> = ids[..4].to_vec();
        expected.push(MemberId::Group(child));
        expected.sort_by_key(|m| m.uuid().to_string());
        assert_eq!(store.list_members(g, false, None, 100).await.unwrap(), expected);
        let first = store.list_members(g, false, None, 2).await.unwrap();
        let rest = store.list_members(g, false, Some(first[1].uuid()), 100).await.unwrap();
        assert_eq!([first, rest].concat(), expected);
        assert_eq!(store.count_members(g).await.unwrap(), 5);
        assert_eq!(store.members_among(g, &[ids[0], ids[4]]).await.unwrap(), vec![ids[0]]);

        let done = store.change_members(g, &removing(&[ids[0], ids[4]])).await.unwrap();
        assert_eq!(done.removed, vec![ids[0]]);
        assert_eq!(store.get_group(g).await.unwrap().unwrap().version, 4, "every change bumps the version");
        let records =
            store.list_audit(&roster_domain::audit::AuditQuery { limit: 100, ..Default::default() }).await.unwrap();
        let members =
            records.iter().filter(|r| matches!(r.action, AuditAction::MemberAdded | AuditAction::MemberRemoved));
        assert_eq!(members.count(), 6, "one record per member that changed, none for those skipped");
    }

    #[tokio::test]
    async fn a_deleted_user_leaves_the_lists_and_comes_back_on_restore() {
        let Some((_db, store)) = test_store().await else { return };
        let u = user(1);
        store.insert_user(&u, None, &audit(AuditAction::UserCreated), &[]).await.unwrap();
        let [g] = groups(&store, 1).await[..] else { unreachable!() };
        store.change_members(g, &adding(&[MemberId::User(u.id)])).await.unwrap();
        let deleted = User { deleted_at: Some(Timestamp(5)), version: 2, ..u.clone() };
        store.save_user(&u, &deleted, &audit(AuditAction::UserDeleted), &[]).await.unwrap();
        assert!(store.list_members(g, false, None, 10).await.unwrap().is_empty());
        assert_eq!(store.count_members(g).await.unwrap(), 0);
        let restored = User { deleted_at: None, version: 3, ..deleted.clone() };
        store.save_user(&deleted, &restored, &audit(AuditAction::UserRestored), &[]).await.unwrap();
        assert_eq!(store.list_members(g, false, None, 10).await.unwrap(), vec![MemberId::User(u.id)]);
    }

    #[tokio::test]
    async fn nesting_is_transitive_and_refuses_cycles() {
        let Some((_db, store)) = test_store().await else { return };
        let u = user(1);
        store.insert_user(&u, None, &audit(AuditAction::UserCreated), &[]).await.unwrap();
        let [a, b, c, d] = groups(&store, 4).await[..] else { unreachable!() };
        // u ∈ d ⊂ c ⊂ b ⊂ a
        store.change_members(d, &adding(&[MemberId::User(u.id)])).await.unwrap();
        store.change_members(c, &adding(&[MemberId::Group(d)])).await.unwrap();
        store.change_members(b, &adding(&[MemberId::Group(c)])).await.unwrap();
        store.change_members(a, &adding(&[MemberId::Group(b)])).await.unwrap();
        assert!(store.in_any_group(u.id, &[a]).await.unwrap());
        let of_user: BTreeSet<GroupId> =
            store.groups_of(MemberId::User(u.id), true, None, 100).await.unwrap().into_iter().collect();
        assert_eq!(of_user, BTreeSet::from([a, b, c, d]));
        assert_eq!(store.groups_of(MemberId::User(u.id), false, None, 100).await.unwrap(), vec![d]);
        let under_a = store.list_members(a, true, None, 100).await.unwrap();
        assert_eq!(under_a.len(), 4, "b, c, d and u: {under_a:?}");
        // u also directly in b: still listed once, and pages of one walk the same list.
        store.change_members(b, &adding(&[MemberId::User(u.id)])).await.unwrap();
        assert_eq!(store.list_members(a, true, None, 100).await.unwrap(), under_a);
        let mut walked = Vec::new();
        let mut after = None;
        while let Some(next) = store.list_members(a, true, after, 1).await.unwrap().pop() {
            walked.push(next);
            after = Some(next.uuid());
        }
        assert_eq!(walked, under_a);
        store.change_members(b, &removing(&[MemberId::User(u.id)])).await.unwrap();

        for (parent, child) in [(d, a), (c, b), (a, a)] {
            let refused = store.change_members(parent, &adding(&[MemberId::Group(child)])).await;
            assert!(matches!(refused, Err(StoreError::Cycle)), "{parent} ⊃ {child}: {refused:?}");
        }
        store.change_members(b, &removing(&[MemberId::Group(c)])).await.unwrap();
        assert!(!store.in_any_group(u.id, &[a, b]).await.unwrap());
        assert!(store.in_any_group(u.id, &[c]).await.unwrap());
        store.change_members(d, &adding(&[MemberId::Group(a)])).await.expect("no longer a cycle");
    }

    #[tokio::test]
    async fn deleting_a_group_takes_it_out_of_the_nesting_and_restoring_keeps_its_users() {
        let Some((_db, store)) = test_store().await else { return };
        let u = user(1);
        store.insert_user(&u, None, &audit(AuditAction::UserCreated), &[]).await.unwrap();
        let [top, mid] = groups(&store, 2).await[..] else { unreachable!() };
        store.change_members(mid, &adding(&[MemberId::User(u.id)])).await.unwrap();
        store.change_members(top, &adding(&[MemberId::Group(mid)])).await.unwrap();
        let before = store.get_group(mid).await.unwrap().unwrap();
        let deleted = Group { deleted_at: Some(Timestamp(9)), version: before.version + 1, ..before.clone() };
        store.save_group(&before, &deleted, &[audit(AuditAction::GroupDeleted)]).await.unwrap();
        assert!(!store.in_any_group(u.id, &[top, mid]).await.unwrap());
        assert!(store.list_members(top, false, None, 10).await.unwrap().is_empty());
        assert!(store.groups_of(MemberId::User(u.id), true, None, 10).await.unwrap().is_empty());
        let stale = store.save_group(&before, &deleted, &[]).await;
        assert!(matches!(stale, Err(StoreError::VersionConflict { .. })), "{stale:?}");
        assert!(matches!(store.change_members(mid, &adding(&[])).await, Err(StoreError::NotFound)));

        let restored = Group { deleted_at: None, version: deleted.version + 1, ..deleted.clone() };
        store.save_group(&deleted, &restored, &[audit(AuditAction::GroupRestored)]).await.unwrap();
        assert!(store.in_any_group(u.id, &[mid]).await.unwrap());
        assert!(!store.in_any_group(u.id, &[top]).await.unwrap(), "the nesting went with the deletion");

        let gone = Group { deleted_at: Some(Timestamp(10)), version: restored.version + 1, ..restored.clone() };
        store.save_group(&restored, &gone, &[]).await.unwrap();
        assert_eq!(store.purge_deleted_groups(Timestamp(11), "test").await.unwrap(), 1);
        assert!(store.get_group(mid).await.unwrap().is_none());
        assert_eq!(store.get_user(u.id).await.unwrap().unwrap().id, u.id, "users stay");
    }

    #[tokio::test]
    async fn lists_filter_sort_and_page_as_the_filters_match() {
        let Some((_db, store)) = test_store().await else { return };
        let names = ["Finance", "finance EMEA", "Fin", "Sales", "Zeta", "Ärzte", "finance"];
        let mut all = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let g = Group { display_name: name.to_string(), ..group(i) };
            store.insert_group(&g, &[], &audit(AuditAction::GroupCreated)).await.unwrap();
            all.push(g);
        }
        let filters = [
            None,
            Some(GroupFilter::DisplayNameStarts("fin".into())),
            Some(GroupFilter::DisplayNameIs("FINANCE".into())),
            Some(GroupFilter::NicknameIs("GROUP3".into())),
            Some(GroupFilter::NicknameStarts("group".into())),
            Some(GroupFilter::ExternalIdIs("ext-4".into())),
            Some(GroupFilter::IdIs(all[5].id)),
        ];
        for filter in filters {
            for descending in [false, true] {
                let mut want: Vec<&Group> =
                    all.iter().filter(|g| filter.as_ref().is_none_or(|f| f.matches(g))).collect();
                want.sort_by_key(|g| (sort_key(&g.display_name), g.id.to_string()));
                if descending {
                    want.reverse();
                }
                let mut got = Vec::new();
                let mut after = None;
                loop {
                    let query =
                        GroupQuery { filter: filter.clone(), descending, after, limit: 2, ..Default::default() };
                    let page = store.list_groups(&query).await.unwrap();
                    after = page.last().map(|g| roster_domain::group::GroupCursor::of(g, GroupOrder::DisplayName));
                    got.extend(page.iter().map(|g| g.id));
                    if page.len() < 2 {
                        break;
                    }
                }
                let want: Vec<GroupId> = want.iter().map(|g| g.id).collect();
                assert_eq!(got, want, "{filter:?} desc={descending}");
                assert_eq!(store.count_groups(filter.as_ref()).await.unwrap() as usize, want.len());
            }
        }
    }

    /// Random nesting changes, the closure checked after each against reachability computed
    /// from the edges alone.
    #[tokio::test]
    async fn the_closure_always_equals_reachability() {
        let Some((_db, store)) = test_store().await else { return };
        let ids = groups(&store, 8).await;
        let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..120 {
            let (p, c) = (next(8), next(8));
            let remove = edges.contains(&(p, c)) && next(3) > 0;
            let result = if remove {
                store.change_members(ids[p], &removing(&[MemberId::Group(ids[c])])).await
            } else {
                store.change_members(ids[p], &adding(&[MemberId::Group(ids[c])])).await
            };
            match result {
                Ok(_) if remove => assert!(edges.remove(&(p, c))),
                Ok(_) => {
                    assert!(!reach(&edges, c).contains(&p), "a cycle was let in: {p} ⊃ {c}");
                    edges.insert((p, c));
                }
                Err(StoreError::Cycle) => assert!(reach(&edges, c).contains(&p), "refused without a cycle: {p} ⊃ {c}"),
                Err(e) => panic!("{e}"),
            }
            let index: HashMap<GroupId, usize> = ids.iter().enumerate().map(|(i, g)| (*g, i)).collect();
            for (i, g) in ids.iter().enumerate() {
                let below: BTreeSet<usize> = store
                    .list_members(*g, true, None, 100)
                    .await
                    .unwrap()
                    .iter()
                    .map(|m| index[&GroupId(m.uuid())])
                    .collect();
                let mut expected = reach(&edges, i);
                expected.remove(&i);
                assert_eq!(below, expected, "descendants of {i} with edges {edges:?}");
            }
        }
    }

    /// The groups reachable from `from` through `edges`, itself included.
    fn reach(edges: &BTreeSet<(usize, usize)>, from: usize) -> BTreeSet<usize> {
        let mut seen = BTreeSet::from([from]);
        let mut stack = vec![from];
        while let Some(g) = stack.pop() {
            for &(a, b) in edges {
                if a == g && seen.insert(b) {
                    stack.push(b);
                }
            }
        }
        seen
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_nodes_nesting_crosswise_at_once_never_make_a_cycle() {
        let Some((db, store)) = test_store().await else { return };
        let node = other_node(&db).await;
        for _ in 0..10 {
            let [a, b] = groups(&store, 2).await[..] else { unreachable!() };
            let (b_in_a, a_in_b) = (adding(&[MemberId::Group(b)]), adding(&[MemberId::Group(a)]));
            let (one, two) = tokio::join!(store.change_members(a, &b_in_a), node.change_members(b, &a_in_b));
            assert!(one.is_ok() != two.is_ok(), "exactly one nesting wins: {one:?} {two:?}");
        }
    }
}
