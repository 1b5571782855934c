-- Messages to people (codes, security notices), written in the same transaction as the change
-- that causes them and delivered afterwards by a worker on any node.
create table outbox (
    id integer primary key autoincrement,
    channel text not null,
    kind text not null,
    recipient text not null,
    -- No foreign key: a notice outlives a purged user.
    user_id text,
    subject text not null,
    -- Emptied after delivery through a real transport (redacted = 1).
    body_text text not null,
    body_html text,
    created_at integer not null,
    -- pending, delivered, held or failed.
    state text not null,
    attempts integer not null,
    next_attempt_at integer not null,
    -- A worker that claims a message holds it until then; past it, another may take it over.
    lease_until integer,
    last_error text,
    finished_at integer,
    redacted integer not null
);
create index outbox_due on outbox (next_attempt_at, id) where state = 'pending';
