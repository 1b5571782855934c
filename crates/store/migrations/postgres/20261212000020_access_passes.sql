-- Mirrors the SQLite migration of the same name.
-- Temporary Access Passes: one per user at most, its secret only as a keyed hash.
create table access_passes (
    user_id text collate "C" primary key not null references users (id) on delete cascade,
    id text collate "C" not null unique,
    pass_hash text collate "C" not null,
    created_at bigint not null,
    start_at bigint not null,
    lifetime_minutes bigint not null,
    usable_once bigint not null,
    -- The last sign-in with the pass; for a one-time pass, the one that used it up.
    used_at bigint
);

-- A session's own end, before the timeouts: one opened with a pass ends with the pass, and
-- names it, so that removing or replacing the pass ends the session at once.
alter table sessions add column expires_at bigint;
alter table sessions add column access_pass_id text collate "C";
