-- Passkeys: a person's WebAuthn credentials, to sign in with as a second
-- factor or alone. Only public data: the authenticator's credential id
-- and the credential as the WebAuthn library keeps it (public key,
-- signature counter, flags).
CREATE TABLE passkeys (
	id            TEXT PRIMARY KEY,
	user_id       TEXT NOT NULL REFERENCES users (id),
	name          TEXT NOT NULL,
	credential_id BLOB NOT NULL,
	credential    BLOB NOT NULL,
	created       INTEGER NOT NULL,
	last_used     INTEGER
);
CREATE UNIQUE INDEX passkeys_credential_id ON passkeys (credential_id);
CREATE INDEX passkeys_user ON passkeys (user_id, created);
