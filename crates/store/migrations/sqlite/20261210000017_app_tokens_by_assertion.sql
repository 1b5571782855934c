-- An application that proves itself with a signed assertion (private_key_jwt) gets access
-- tokens under the client-credentials grant too; such a token was issued against no secret.
-- SQLite cannot drop a NOT NULL constraint, so the table is rebuilt; nothing refers to it.
create table app_tokens_rebuilt (
    hash text primary key not null,
    app_id text not null references apps (id) on delete cascade,
    secret_id text references app_secrets (id) on delete cascade,
    expires_at integer not null
);
insert into app_tokens_rebuilt (hash, app_id, secret_id, expires_at)
    select hash, app_id, secret_id, expires_at from app_tokens;
drop table app_tokens;
alter table app_tokens_rebuilt rename to app_tokens;
create index app_tokens_by_expiry on app_tokens (expires_at);
create index app_tokens_by_secret on app_tokens (secret_id);
create index app_tokens_by_app on app_tokens (app_id);
