-- Tamper evidence for the audit log. Records are sealed shortly after they are written, in one
-- chain: `seq` numbers them in the order they were sealed, `hash` covers the previous record's
-- hash and every field (see roster_domain::audit::chain_hash). Unsealed records have neither.
alter table audit_log add column seq integer;
alter table audit_log add column hash text;
create unique index audit_log_by_seq on audit_log (seq) where seq is not null;
create index audit_log_unsealed on audit_log (id) where seq is null;
-- The audit log is listed newest first by time (then id), and filtered by who acted, whom it
-- was about, the action and a time range; retention removes by time. Each filter's index is in
-- list order, so a page (and a time range within a filter) is a range scan with no sort.
create index audit_log_by_time on audit_log (at, id);
create index audit_log_by_actor on audit_log (actor_id, at, id);
create index audit_log_by_action on audit_log (action, at, id);
drop index audit_log_by_target;
create index audit_log_by_target on audit_log (target_id, at, id);

-- The chain's ends: 'head' is the last record sealed, 'anchor' the last one retention removed
-- (verification starts after it). Sealers lock the head row, so nodes take turns.
create table audit_chain (
    name text primary key not null,
    seq integer not null,
    hash text not null
);
