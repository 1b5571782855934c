-- Temporary Access Passes: one per user at most, its secret only as a keyed hash.
create table access_passes (
    user_id text primary key not null references users (id) on delete cascade,
    id text not null unique,
    pass_hash text not null,
    created_at integer not null,
    start_at integer not null,
    lifetime_minutes integer not null,
    usable_once integer not null,
    -- The last sign-in with the pass; for a one-time pass, the one that used it up.
    used_at integer
);

-- A session's own end, before the timeouts: one opened with a pass ends with the pass, and
-- names it, so that removing or replacing the pass ends the session at once.
alter table sessions add column expires_at integer;
alter table sessions add column access_pass_id text;
