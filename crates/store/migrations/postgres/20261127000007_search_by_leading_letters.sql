-- Mirrors the SQLite migration of the same name: the same indexes over the same expressions.
-- Prefix search in list order. A search source (first names, last names, usernames, display
-- names, alternate addresses) is indexed by its first three letters and then in each list order,
-- so that a search of three letters or more walks each source in the order of the page it is
-- building and stops after one page: a prefix range alone holds many different names (Smith,
-- Smithers, Smits…), each sorted apart, and would have to be collected whole and sorted.
drop index users_active_by_first;
drop index users_active_by_last;
drop index alternate_emails_by_key;

create index users_first_by_display on users (substr(first_key, 1, 3), display_key, id, first_key)
    where deleted_at is null;
create index users_first_by_username on users (substr(first_key, 1, 3), username, first_key)
    where deleted_at is null;
create index users_last_by_display on users (substr(last_key, 1, 3), display_key, id, last_key)
    where deleted_at is null;
create index users_last_by_username on users (substr(last_key, 1, 3), username, last_key)
    where deleted_at is null;
create index users_username_by_display on users (substr(username, 1, 3), display_key, id, username)
    where deleted_at is null;
create index users_display_by_username on users (substr(display_key, 1, 3), username, display_key)
    where deleted_at is null;
create index alternate_emails_by_display on alternate_emails (substr(address_key, 1, 3), display_key, user_id, address_key)
    where active = 1;
create index alternate_emails_by_username on alternate_emails (substr(address_key, 1, 3), username, address_key)
    where active = 1;
