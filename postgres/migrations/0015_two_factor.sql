-- Two-factor sign-in with an authenticator app (TOTP), the account setting
-- that requires it of every member, and sessions a person can see.

-- A person's authenticator: the TOTP secret (base32, as the app was given
-- it; '' while none is enrolled), when it was enrolled (NULL: no second
-- factor), and the last time step a code was accepted for, so that a code
-- works once (a reused one, or an older one, is refused).
ALTER TABLE users ADD COLUMN totp_secret text NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN totp_enabled timestamptz;
ALTER TABLE users ADD COLUMN totp_last_step bigint NOT NULL DEFAULT 0;

-- A person's recovery codes: only a SHA-256 of each (salted with the
-- person's id), each used once.
CREATE TABLE recovery_codes (
	user_id text NOT NULL REFERENCES users (id),
	digest  bytea NOT NULL,
	used    timestamptz,
	PRIMARY KEY (user_id, digest)
);

-- Every member signs in with a second factor, and enrols one first.
ALTER TABLE accounts ADD COLUMN two_factor_required boolean NOT NULL DEFAULT false;

-- Sessions get an id that is not a secret (the Account page names one to
-- sign it out), the browser and address they started from, and whether
-- the sign-in waits for its second factor (pending: the password was
-- right, the code is not given yet).
ALTER TABLE sessions ADD COLUMN id text NOT NULL DEFAULT '';
UPDATE sessions SET id = 'sess_' || substr(md5(random()::text || encode(digest, 'hex')), 1, 22);
CREATE UNIQUE INDEX sessions_id ON sessions (id);
ALTER TABLE sessions ADD COLUMN user_agent text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN pending boolean NOT NULL DEFAULT false;
