-- Accounts own keys and data. Times are unix seconds, UTC.
CREATE TABLE accounts (
	id      TEXT PRIMARY KEY,
	name    TEXT NOT NULL,
	created INTEGER NOT NULL
);

-- API keys. Only the SHA-256 of a key is kept, never the key: digest is the
-- index a presented key is looked up by. seq orders keys newest first and
-- is the pagination cursor behind an id, stable even for keys created in
-- the same second. A key with revoked set is revoked.
CREATE TABLE api_keys (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	id           TEXT NOT NULL UNIQUE,
	account_id   TEXT NOT NULL REFERENCES accounts (id),
	name         TEXT NOT NULL,
	environment  TEXT NOT NULL CHECK (environment IN ('live', 'test')),
	permissions  TEXT NOT NULL, -- JSON array of strings
	digest       BLOB NOT NULL UNIQUE,
	hint         TEXT NOT NULL,
	created      INTEGER NOT NULL,
	expires      INTEGER,
	last_used    INTEGER,
	revoked      INTEGER,
	rotated_from TEXT,
	rate_limit   TEXT NOT NULL DEFAULT '', -- "N/m" etc.; '' means the server's default
	allowed_ips  TEXT  -- JSON array of addresses and CIDR ranges; NULL means anywhere
);

CREATE INDEX api_keys_account_seq ON api_keys (account_id, seq);
