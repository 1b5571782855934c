-- An application that proves itself with a signed assertion (private_key_jwt) gets access
-- tokens under the client-credentials grant too. Such a token was issued against no secret: it
-- records a digest of the application's key set instead, and holds only while that set does.
-- SQLite cannot drop a NOT NULL constraint, so the table is made again; nothing refers to it.
alter table app_tokens rename to app_tokens_before;
create table app_tokens (
    hash text primary key not null,
    app_id text not null references apps (id) on delete cascade,
    secret_id text references app_secrets (id) on delete cascade,
    expires_at integer not null,
    -- Last, where PostgreSQL's added column is, so that both engines' rows line up.
    key_set text
);
insert into app_tokens (hash, app_id, secret_id, expires_at)
    select hash, app_id, secret_id, expires_at from app_tokens_before;
drop table app_tokens_before;
create index app_tokens_by_expiry on app_tokens (expires_at);
create index app_tokens_by_secret on app_tokens (secret_id);
create index app_tokens_by_app on app_tokens (app_id);
