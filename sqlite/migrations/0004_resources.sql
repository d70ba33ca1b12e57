-- Candidates and interviews: the data the permissions guard. Each row
-- belongs to an account and an environment, and only keys of both see it.
-- seq orders rows newest first and is the pagination cursor behind an id,
-- as in api_keys. A deleted row keeps its id, scope and seq as a tombstone,
-- so that its id stays a valid cursor, and loses everything else: deleted
-- is set and the personal fields are emptied.
CREATE TABLE candidates (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	id          TEXT NOT NULL UNIQUE,
	account_id  TEXT NOT NULL REFERENCES accounts (id),
	environment TEXT NOT NULL CHECK (environment IN ('live', 'test')),
	name        TEXT NOT NULL,
	email       TEXT NOT NULL,
	created     INTEGER NOT NULL,
	deleted     INTEGER
);

CREATE INDEX candidates_scope_seq ON candidates (account_id, environment, seq);

CREATE TABLE interviews (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	id           TEXT NOT NULL UNIQUE,
	account_id   TEXT NOT NULL REFERENCES accounts (id),
	environment  TEXT NOT NULL CHECK (environment IN ('live', 'test')),
	candidate_id TEXT NOT NULL REFERENCES candidates (id) ON DELETE CASCADE,
	position     TEXT NOT NULL,
	scheduled_at INTEGER,
	status       TEXT NOT NULL,
	created      INTEGER NOT NULL,
	deleted      INTEGER
);

CREATE INDEX interviews_scope_seq ON interviews (account_id, environment, seq);
CREATE INDEX interviews_candidate ON interviews (candidate_id);
