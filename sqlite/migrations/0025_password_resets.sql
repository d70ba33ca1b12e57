-- Password reset links that an owner or admin issues for a member (the
-- server sends no mail): only the SHA-256 of the link's token is kept.
-- Pending while used and canceled are NULL and expires is in the future;
-- a newer reset of the same member cancels the older.
CREATE TABLE password_resets (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT NOT NULL UNIQUE,
	account_id TEXT NOT NULL REFERENCES accounts (id),
	user_id    TEXT NOT NULL REFERENCES users (id),
	email      TEXT NOT NULL,
	digest     BLOB NOT NULL UNIQUE,
	created_by TEXT NOT NULL,
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	used       INTEGER,
	canceled   INTEGER
);

CREATE INDEX password_resets_member ON password_resets (account_id, user_id);
