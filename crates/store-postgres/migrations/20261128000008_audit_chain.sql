-- Tamper evidence for the audit log. Records are sealed shortly after they are written, in one
-- chain: `seq` numbers them in the order they were sealed, `hash` covers the previous record's
-- hash and every field (see roster_domain::audit::chain_hash). Unsealed records have neither.
alter table audit_log add column seq bigint;
alter table audit_log add column hash text;
create unique index audit_log_by_seq on audit_log (seq) where seq is not null;
create index audit_log_unsealed on audit_log (id) where seq is null;
-- Retention removes by time; the audit log page filters by time, by who acted and by action,
-- newest first.
create index audit_log_by_time on audit_log (at);
create index audit_log_by_actor on audit_log (actor_id, id);
create index audit_log_by_action on audit_log (action, id);

-- The chain's ends: 'head' is the last record sealed, 'anchor' the last one retention removed
-- (verification starts after it). Sealers lock the head row, so nodes take turns.
create table audit_chain (
    name text primary key not null,
    seq bigint not null,
    hash text not null
);
