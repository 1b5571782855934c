-- Application registrations for the APIs: client ids, client secrets and access tokens.
-- Secrets and tokens are stored as SHA-256 hashes only.
create table apps (
    id text primary key not null,
    name text not null,
    -- Bit mask of application permissions (see roster_domain::apps::AppPermission).
    permissions bigint not null,
    created_at bigint not null,
    created_by text not null
);

create table app_secrets (
    id text primary key not null,
    app_id text not null references apps (id) on delete cascade,
    description text not null,
    hint text not null,
    hash text not null,
    created_at bigint not null,
    expires_at bigint not null
);
create index app_secrets_by_app on app_secrets (app_id);

create table app_tokens (
    hash text primary key not null,
    app_id text not null references apps (id) on delete cascade,
    secret_id text not null references app_secrets (id) on delete cascade,
    expires_at bigint not null
);
create index app_tokens_by_expiry on app_tokens (expires_at);
create index app_tokens_by_secret on app_tokens (secret_id);
create index app_tokens_by_app on app_tokens (app_id);
