-- The Active users filters that keep few users walk an index of just those users, in each
-- list order, rather than the whole list testing every row.
create index users_blocked_by_display on users (display_key, id) where deleted_at is null and enabled = 0;
create index users_blocked_by_username on users (username) where deleted_at is null and enabled = 0;
create index users_administrators_by_display on users (display_key, id) where deleted_at is null and roles != 0;
create index users_administrators_by_username on users (username) where deleted_at is null and roles != 0;
