-- What an application's `groups` claim carries: none, the groups' ids, or their names.
alter table apps add column groups_claim text not null default 'none';
-- Further claims: a JSON array of {claim, attribute}, the attribute by its Graph name.
alter table apps add column claim_mappings text not null default '[]';
-- Each person gets a subject identifier of the application's own (1), or their user id (0).
alter table apps add column pairwise_subject integer not null default 0;
-- Where Roster posts logout tokens when a person's sign-in ends; null for none.
alter table apps add column backchannel_logout_uri text;
-- The public keys of an application that authenticates with signed assertions
-- (private_key_jwt), as a JSON Web Key Set; null for one that uses client secrets.
alter table apps add column jwks text;

-- When an application's logo was last uploaded; null without one. The image itself is kept
-- apart, so that reading an application does not read its logo.
alter table apps add column logo_updated_at integer;
create table app_logos (
    app_id text primary key not null references apps (id) on delete cascade,
    content_type text not null,
    bytes blob not null
);

-- The client assertions applications used, each kept until it expires so that none is used
-- twice.
create table client_assertions (
    app_id text not null references apps (id) on delete cascade,
    jti text not null,
    expires_at integer not null,
    primary key (app_id, jti)
);
create index client_assertions_by_expiry on client_assertions (expires_at);
