-- The audit log: every change to a key, who made it and from where. Written
-- in the same transaction as the change. seq orders events newest first and
-- is the pagination cursor behind an id. environment is the target key's
-- (NULL for an event about no key), so that a test key sees only test
-- events. Never a secret in it.
CREATE TABLE audit_events (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	id          TEXT NOT NULL UNIQUE,
	account_id  TEXT NOT NULL REFERENCES accounts (id),
	environment TEXT CHECK (environment IN ('live', 'test')),
	action      TEXT NOT NULL,
	actor       TEXT NOT NULL,
	target      TEXT NOT NULL,
	ip          TEXT NOT NULL,
	created     INTEGER NOT NULL
);

CREATE INDEX audit_events_account_seq ON audit_events (account_id, seq);
