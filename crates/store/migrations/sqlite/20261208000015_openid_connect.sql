-- Signing people in to applications (OpenID Connect): each application's sign-in settings,
-- the keys that sign ID tokens, authorization codes, and access and refresh tokens. Codes and
-- tokens are stored as SHA-256 hashes only; private keys sealed under the server's key.
alter table apps add column redirect_uris text not null default '[]';
alter table apps add column public_client integer not null default 0;
alter table apps add column id_token_alg text not null default 'RS256';
-- Where an application may send people after they sign out of Roster through it.
alter table apps add column post_logout_redirect_uris text not null default '[]';
-- Where My apps opens the application; empty when it has none.
alter table apps add column home_page_url text;
-- Only the users and groups assigned may sign in to it.
alter table apps add column assignment_required integer not null default 0;
-- An administrator consented for the whole organisation: no one is asked.
alter table apps add column admin_consent integer not null default 0;

-- How the session's user proved who they are, as `amr` values separated by spaces.
alter table sessions add column amr text not null default 'pwd';

create table signing_keys (
    kid text primary key not null,
    alg text not null,
    sealed_private_key text not null,
    created_at integer not null,
    signs_from integer not null,
    retires_at integer
);

create table oauth_codes (
    hash text primary key not null,
    app_id text not null references apps (id) on delete cascade,
    user_id text not null references users (id) on delete cascade,
    scopes integer not null,
    auth_time integer not null,
    amr text not null,
    redirect_uri text not null,
    nonce text,
    code_challenge text,
    expires_at integer not null,
    -- Set when the code is redeemed: the chain its tokens belong to, ended if it comes again.
    chain text
);
create index oauth_codes_by_expiry on oauth_codes (expires_at);

create table oauth_tokens (
    hash text primary key not null,
    chain text not null,
    refresh integer not null,
    app_id text not null references apps (id) on delete cascade,
    user_id text not null references users (id) on delete cascade,
    scopes integer not null,
    auth_time integer not null,
    amr text not null,
    expires_at integer not null,
    -- When a refresh token was exchanged; a second exchange ends its chain.
    used_at integer
);
create index oauth_tokens_by_chain on oauth_tokens (chain);
create index oauth_tokens_by_user on oauth_tokens (user_id);
create index oauth_tokens_by_expiry on oauth_tokens (expires_at);

-- Who is assigned to an application: a user or a group (whose members at any depth are).
create table app_assignments (
    app_id text not null references apps (id) on delete cascade,
    member_id text not null,
    member_kind text not null,
    primary key (app_id, member_id)
);
create index app_assignments_by_member on app_assignments (member_id);

-- What each person let an application have, and when they last signed in to it.
create table app_grants (
    user_id text not null references users (id) on delete cascade,
    app_id text not null references apps (id) on delete cascade,
    -- Scopes consented to, as a bit mask; 0 when the application was only used under the
    -- organisation's consent.
    scopes integer not null,
    consented_at integer,
    last_sign_in_at integer not null,
    primary key (user_id, app_id)
);
create index app_grants_by_app on app_grants (app_id);
