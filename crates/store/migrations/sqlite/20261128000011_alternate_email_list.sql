-- Each user's alternate addresses, in order, as a JSON array on the user's own row. Reading a
-- user (a page of a thousand through the API, the readiness count, a user's details) then
-- needs no probe of alternate_emails per user. The alternate_emails table stays, as the index
-- that address searches and filters use; the store rewrites both in the same transaction.
alter table users add column alternate_email_list text not null default '[]';

update users set alternate_email_list = (
    select json_group_array(address order by position) from alternate_emails e where e.user_id = users.id
) where exists (select 1 from alternate_emails e where e.user_id = users.id);
