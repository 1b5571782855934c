-- An application that proves itself with a signed assertion (private_key_jwt) gets access
-- tokens under the client-credentials grant too. Such a token was issued against no secret: it
-- records a digest of the application's key set instead, and holds only while that set does.
alter table app_tokens alter column secret_id drop not null;
alter table app_tokens add column key_set text collate "C";
