-- Passkeys: a person's WebAuthn credentials, to sign in with as a second
-- factor or alone. Only public data: the authenticator's credential id
-- and the credential as the WebAuthn library keeps it (public key,
-- signature counter, flags).
CREATE TABLE passkeys (
	id            text PRIMARY KEY,
	user_id       text NOT NULL REFERENCES users (id),
	name          text NOT NULL,
	credential_id bytea NOT NULL,
	credential    bytea NOT NULL,
	created       timestamptz NOT NULL,
	last_used     timestamptz
);
CREATE UNIQUE INDEX passkeys_credential_id ON passkeys (credential_id);
CREATE INDEX passkeys_user ON passkeys (user_id, created);
