-- Every sign-in attempt, kept as long as the audit log. No foreign key: attempts with unknown
-- usernames are kept too, and attempts outlive purged users.
create table signin_log (
    id integer primary key autoincrement,
    at integer not null,
    user_id text,
    -- As entered, trimmed and lower-cased.
    username text not null,
    success integer not null,
    method text not null,
    detail text not null,
    client_ip text
);
-- Listed newest first, by time and filtered by username or result.
create index signin_log_by_time on signin_log (at, id);
create index signin_log_by_username on signin_log (username, at, id);
create index signin_log_by_result on signin_log (success, at, id);
