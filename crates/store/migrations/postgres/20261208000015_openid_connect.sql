-- Mirrors the SQLite migration of the same name.
-- Signing people in to applications (OpenID Connect): each application's sign-in settings,
-- the keys that sign ID tokens, authorization codes, and access and refresh tokens. Codes and
-- tokens are stored as SHA-256 hashes only; private keys sealed under the server's key.
alter table apps add column redirect_uris text not null default '[]';
alter table apps add column public_client bigint not null default 0;
alter table apps add column id_token_alg text not null default 'RS256';
-- Where an application may send people after they sign out of Roster through it.
alter table apps add column post_logout_redirect_uris text not null default '[]';
-- Where My apps opens the application; empty when it has none.
alter table apps add column home_page_url text;
-- Only the users and groups assigned may sign in to it.
alter table apps add column assignment_required bigint not null default 0;
-- An administrator consented for the whole organisation: no one is asked.
alter table apps add column admin_consent bigint not null default 0;

-- How the session's user proved who they are, as `amr` values separated by spaces.
alter table sessions add column amr text not null default 'pwd';

create table signing_keys (
    kid text collate "C" primary key not null,
    alg text collate "C" not null,
    sealed_private_key text collate "C" not null,
    created_at bigint not null,
    signs_from bigint not null,
    retires_at bigint
);

create table oauth_codes (
    hash text collate "C" primary key not null,
    app_id text collate "C" not null references apps (id) on delete cascade,
    user_id text collate "C" not null references users (id) on delete cascade,
    scopes bigint not null,
    auth_time bigint not null,
    amr text collate "C" not null,
    redirect_uri text collate "C" not null,
    nonce text collate "C",
    code_challenge text collate "C",
    expires_at bigint not null,
    -- Set when the code is redeemed: the chain its tokens belong to, ended if it comes again.
    chain text collate "C"
);
create index oauth_codes_by_expiry on oauth_codes (expires_at);

create table oauth_tokens (
    hash text collate "C" primary key not null,
    chain text collate "C" not null,
    refresh bigint not null,
    app_id text collate "C" not null references apps (id) on delete cascade,
    user_id text collate "C" not null references users (id) on delete cascade,
    scopes bigint not null,
    auth_time bigint not null,
    amr text collate "C" not null,
    expires_at bigint not null,
    -- When a refresh token was exchanged; a second exchange ends its chain.
    used_at bigint
);
create index oauth_tokens_by_chain on oauth_tokens (chain);
create index oauth_tokens_by_user on oauth_tokens (user_id);
create index oauth_tokens_by_expiry on oauth_tokens (expires_at);

-- Who is assigned to an application: a user or a group (whose members at any depth are).
create table app_assignments (
    app_id text collate "C" not null references apps (id) on delete cascade,
    member_id text collate "C" not null,
    member_kind text collate "C" not null,
    primary key (app_id, member_id)
);
create index app_assignments_by_member on app_assignments (member_id);

-- What each person let an application have, and when they last signed in to it.
create table app_grants (
    user_id text collate "C" not null references users (id) on delete cascade,
    app_id text collate "C" not null references apps (id) on delete cascade,
    -- Scopes consented to, as a bit mask; 0 when the application was only used under the
    -- organisation's consent.
    scopes bigint not null,
    consented_at bigint,
    last_sign_in_at bigint not null,
    primary key (user_id, app_id)
);
create index app_grants_by_app on app_grants (app_id);
