-- Administrators are few: notices to all Global Administrators find them without a scan.
create index users_administrators on users (id) where roles != 0;
