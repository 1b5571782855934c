-- Mirrors the SQLite migration of the same name (integers as bigint).
-- Contacts their users proved are theirs. A row counts only while the contact holds the same
-- value; saving a user deletes the rows of contacts that changed.
create table contact_verifications (
    user_id text not null references users (id) on delete cascade,
    -- email, mobile_phone, alternate_mobile_phone, office_phone
    method text not null,
    value text not null,
    verified_at bigint not null,
    primary key (user_id, method, value)
);

-- One-time codes, as keyed hashes (HMAC-SHA256 under the server's key) only.
create table one_time_codes (
    id text primary key not null,
    user_id text not null references users (id) on delete cascade,
    -- verify or reset
    purpose text not null,
    method text not null,
    value text not null,
    code_hash text not null,
    created_at bigint not null,
    expires_at bigint not null,
    attempts bigint not null,
    used_at bigint
);
create index one_time_codes_by_expiry on one_time_codes (expires_at);
create index one_time_codes_by_user on one_time_codes (user_id, purpose, method, value, created_at);

-- Self-service password resets in progress, also for usernames that do not exist (user_id is
-- then null), so that both walk the same path.
create table reset_sessions (
    token_hash text primary key not null,
    user_id text references users (id) on delete cascade,
    username text not null,
    csrf_token text not null,
    created_at bigint not null,
    expires_at bigint not null,
    -- JSON array of the method keys proven so far.
    proven text not null,
    code_id text,
    code_method text
);
create index reset_sessions_by_expiry on reset_sessions (expires_at);

-- Lockouts that outlast a counter's window (a day after too many codes, say).
create table locks (
    key text primary key not null,
    until bigint not null
);
