-- Groups: security groups of users and of other groups, their owners, and the transitive
-- closure of their nesting, which makes "is this user in that group, at any depth" one
-- indexed lookup.
create table groups (
    id text primary key not null,
    display_name text not null,
    -- Case-folded copies, kept by the store, for sorting and prefix search.
    display_key text not null,
    description text,
    mail_nickname text not null,
    nickname_key text not null,
    -- The provisioning client's own id for the group (SCIM externalId), compared exactly.
    external_id text,
    created_at integer not null,
    updated_at integer not null,
    updated_by text not null,
    version integer not null,
    deleted_at integer
);
create index groups_active_by_display on groups (display_key, id) where deleted_at is null;
create index groups_active_by_nickname on groups (nickname_key, id) where deleted_at is null;
create index groups_by_external_id on groups (external_id) where external_id is not null;
create index groups_deleted on groups (deleted_at) where deleted_at is not null;

-- Users in groups. A deleted user's rows stay (lists skip them) so that a restore brings the
-- memberships back; a purge removes them with the user.
create table group_members (
    group_id text not null references groups (id) on delete cascade,
    user_id text not null references users (id) on delete cascade,
    primary key (group_id, user_id)
);
create index group_members_by_user on group_members (user_id, group_id);

-- Groups in groups: the edges of the nesting, which never form a cycle.
create table group_nesting (
    parent_id text not null references groups (id) on delete cascade,
    child_id text not null references groups (id) on delete cascade,
    primary key (parent_id, child_id)
);
create index group_nesting_by_child on group_nesting (child_id, parent_id);

-- Every (ancestor, descendant) pair of active groups, each group with itself included, and
-- how many distinct nesting paths lead from one to the other: adding an edge adds products of
-- path counts, removing one subtracts them, and a pair goes when its count reaches zero.
create table group_closure (
    ancestor_id text not null references groups (id) on delete cascade,
    descendant_id text not null references groups (id) on delete cascade,
    paths integer not null,
    primary key (descendant_id, ancestor_id)
);
create index group_closure_by_ancestor on group_closure (ancestor_id, descendant_id);

create table group_owners (
    group_id text not null references groups (id) on delete cascade,
    user_id text not null references users (id) on delete cascade,
    primary key (group_id, user_id)
);
create index group_owners_by_user on group_owners (user_id, group_id);

-- Audit records of changes to or in a group, filterable by it.
alter table audit_log add column group_id text;
create index audit_log_by_group on audit_log (group_id, id) where group_id is not null;
