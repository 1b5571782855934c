-- Mirrors the SQLite migration of the same name (integers as bigint, flags 0 or 1).
-- Second factors: the authenticator app (its secret sealed under the server's key) and
-- whether the user chose a second step although the policy does not require one.
create table user_mfa (
    user_id text primary key not null references users (id) on delete cascade,
    app_secret text,
    app_confirmed bigint not null default 0,
    -- The last TOTP time step accepted: no code works twice.
    app_last_step bigint,
    chosen bigint not null default 0
);

-- One-time recovery codes, as keyed hashes.
create table recovery_codes (
    user_id text not null references users (id) on delete cascade,
    code_hash text not null,
    used_at bigint,
    primary key (user_id, code_hash)
);

-- Sign-ins whose password was right and whose second step is still to come.
create table pending_signins (
    token_hash text primary key not null,
    user_id text not null references users (id) on delete cascade,
    csrf_token text not null,
    created_at bigint not null,
    expires_at bigint not null,
    -- Where to go once signed in (a local path).
    next text not null,
    code_id text,
    code_method text
);
create index pending_signins_by_expiry on pending_signins (expires_at);
