-- Passkeys (WebAuthn credentials): the library's credential as JSON, found by the credential
-- id an assertion names, which no two passkeys share.
create table passkeys (
    id text primary key not null,
    user_id text not null references users (id) on delete cascade,
    credential_id text not null unique,
    name text not null,
    aaguid text,
    backup_eligible integer not null,
    credential text not null,
    created_at integer not null,
    last_used_at integer
);
create index passkeys_by_user on passkeys (user_id, created_at);

-- Ceremonies under way (registration, second step, sign-in with a passkey), under the hash of
-- the token their page holds, so that any node can finish what another started; used once.
create table webauthn_ceremonies (
    token_hash text primary key not null,
    kind text not null,
    user_id text references users (id) on delete cascade,
    state text not null,
    expires_at integer not null
);
create index webauthn_ceremonies_by_expiry on webauthn_ceremonies (expires_at);
