-- The directory. Times are milliseconds since the Unix epoch (UTC); ids are UUIDs as text, so
-- the same values move unchanged between engines.

create table users (
    id text primary key not null,
    -- Sign-in name, stored lower-cased: unique across active and deleted users, so that a
    -- restore never collides.
    username text not null unique,
    display_name text not null,
    -- Case-folded copies of the names, kept by the store: they serve sorting and prefix search.
    display_key text not null,
    first_name text,
    first_key text,
    last_name text,
    last_key text,
    job_title text,
    department text,
    office text,
    -- Phones in E.164 with an optional "x" extension.
    office_phone text,
    mobile_phone text,
    alternate_mobile_phone text,
    fax text,
    street_address text,
    city text,
    state text,
    postal_code text,
    country text,
    -- Bit mask of administrator roles (see roster_domain::Role).
    roles integer not null default 0,
    enabled integer not null,
    must_change_password integer not null,
    password_hash text,
    created_at integer not null,
    updated_at integer not null,
    updated_by text not null,
    version integer not null,
    deleted_at integer
);

-- Keyset pagination of Active users by display name and by username; the partial indexes
-- hold only active users, which is what every list but Deleted users reads. Each also carries
-- both sort keys and the id, so a search collects its candidates from the indexes alone and
-- reads the table only for the rows it shows.
create index users_active_by_display on users (display_key, id, first_key, last_key, username)
    where deleted_at is null;
create index users_active_by_username on users (username, display_key, first_key, last_key, id)
    where deleted_at is null;
create index users_active_by_first on users (first_key, display_key, username, id) where deleted_at is null;
create index users_active_by_last on users (last_key, display_key, username, id) where deleted_at is null;
create index users_deleted on users (deleted_at) where deleted_at is not null;

create table alternate_emails (
    user_id text not null references users (id) on delete cascade,
    position integer not null,
    address text not null,
    -- Lower-cased address, for prefix search.
    address_key text not null,
    -- Copies of the user's sort keys and state, rewritten with the addresses on every save,
    -- so that a search over addresses needs no join.
    display_key text not null,
    username text not null,
    active integer not null,
    primary key (user_id, position)
);
create index alternate_emails_by_key on alternate_emails (address_key, display_key, username, user_id)
    where active = 1;

-- Append-only record of every change. No foreign keys: records outlive purged users.
create table audit_log (
    id integer primary key autoincrement,
    at integer not null,
    actor_id text,
    actor_name text not null,
    target_id text,
    target_name text not null,
    action text not null,
    -- JSON array of {field, sensitive, before, after}; never secrets.
    changes text not null,
    client_ip text,
    request_id text
);
create index audit_log_by_target on audit_log (target_id, id);

create table sessions (
    -- SHA-256 of the cookie token; the token itself is never stored.
    token_hash text primary key not null,
    user_id text not null references users (id) on delete cascade,
    csrf_token text not null,
    created_at integer not null,
    last_seen_at integer not null
);
create index sessions_by_user on sessions (user_id);

-- Fixed-window counters for throttling, shared by every process on the database.
create table rate_counters (
    key text primary key not null,
    window_start integer not null,
    count integer not null
);

create table settings (
    key text primary key not null,
    value text not null
);
