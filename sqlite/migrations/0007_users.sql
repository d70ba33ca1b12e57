-- Dashboard users. email is lower-cased and unique across accounts (it is
-- how a user signs in); NULL until set (the first-start owner, before the
-- setup link). password_hash is an argon2id PHC string, '' until set.
CREATE TABLE users (
	seq              INTEGER PRIMARY KEY AUTOINCREMENT,
	id               TEXT NOT NULL UNIQUE,
	account_id       TEXT NOT NULL REFERENCES accounts (id),
	email            TEXT,
	password_hash    TEXT NOT NULL DEFAULT '',
	role             TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
	created          INTEGER NOT NULL,
	password_changed INTEGER
);

CREATE UNIQUE INDEX users_email ON users (email) WHERE email IS NOT NULL;
CREATE INDEX users_account_seq ON users (account_id, seq);

-- Signed-in browsers: only the SHA-256 of the cookie's random id is kept.
CREATE TABLE sessions (
	digest     BLOB PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id),
	account_id TEXT NOT NULL REFERENCES accounts (id),
	created    INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	expires    INTEGER NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);

-- One-time links (setup, invite): only the SHA-256 of the token is kept. A
-- link is used once: used is set in the transaction that uses it.
CREATE TABLE links (
	digest     BLOB PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id),
	account_id TEXT NOT NULL REFERENCES accounts (id),
	purpose    TEXT NOT NULL CHECK (purpose IN ('setup', 'invite')),
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	used       INTEGER
);

CREATE INDEX links_user ON links (user_id);
