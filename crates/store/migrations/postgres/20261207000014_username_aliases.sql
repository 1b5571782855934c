-- Mirrors the SQLite migration of the same name.
-- A renamed user's former usernames, which keep signing them in (and reaching self-service
-- reset) until expires_at. A current username takes precedence over another user's alias.
create table username_aliases (
    username text collate "C" primary key not null,
    user_id text collate "C" not null references users (id) on delete cascade,
    expires_at bigint not null
);
create index username_aliases_by_user on username_aliases (user_id);
