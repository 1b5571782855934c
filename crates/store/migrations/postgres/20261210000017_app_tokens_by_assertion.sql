-- An application that proves itself with a signed assertion (private_key_jwt) gets access
-- tokens under the client-credentials grant too; such a token was issued against no secret.
alter table app_tokens alter column secret_id drop not null;
