-- Each user's alternate addresses, in order, as a JSON array on the user's own row (text, as in
-- the SQLite schema, so that `roster copy` carries it unchanged between the engines). Reading a
-- user (a page of a thousand through the API, the readiness count, a user's details) then
-- needs no probe of alternate_emails per user. The alternate_emails table stays, as the index
-- that address searches and filters use; the store rewrites both in the same transaction.
alter table users add column alternate_email_list text not null default '[]';

update users set alternate_email_list = e.addresses
from (select user_id, json_agg(address order by position)::text as addresses from alternate_emails group by user_id) e
where e.user_id = users.id;
