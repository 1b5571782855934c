-- Mirrors the SQLite migration of the same name.
-- What provisioning clients (Entra ID, Okta) and Graph scripts set besides contact information.
-- mail is the primary email address; null while it is the username, so that it follows a
-- rename. manager_id names another user, and is cleared when that user is purged.
alter table users add column mail text;
alter table users add column formatted_name text;
alter table users add column external_id text collate "C";
alter table users add column employee_id text;
alter table users add column company_name text;
alter table users add column cost_center text;
alter table users add column division text;
alter table users add column preferred_language text;
alter table users add column locale text;
alter table users add column manager_id text collate "C";

-- A provisioning client finds its users by externalId (Entra's matching attribute).
create index users_by_external_id on users (external_id) where external_id is not null;
create index users_by_manager on users (manager_id) where manager_id is not null;
