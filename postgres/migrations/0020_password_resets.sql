-- Password reset links that an owner or admin issues for a member (the
-- server sends no mail): only the SHA-256 of the link's token is kept.
-- Pending while used and canceled are NULL and expires is in the future;
-- a newer reset of the same member cancels the older.
CREATE TABLE password_resets (
	seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id         text NOT NULL UNIQUE,
	account_id text NOT NULL REFERENCES accounts (id),
	user_id    text NOT NULL REFERENCES users (id),
	email      text NOT NULL,
	digest     bytea NOT NULL UNIQUE,
	created_by text NOT NULL,
	created    timestamptz NOT NULL,
	expires    timestamptz NOT NULL,
	used       timestamptz,
	canceled   timestamptz
);

CREATE INDEX password_resets_member ON password_resets (account_id, user_id);
