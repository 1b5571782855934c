-- A renamed user's former usernames, which keep signing them in (and reaching self-service
-- reset) until expires_at. A current username takes precedence over another user's alias.
create table username_aliases (
    username text primary key not null,
    user_id text not null references users (id) on delete cascade,
    expires_at integer not null
);
create index username_aliases_by_user on username_aliases (user_id);
