-- Requests sent with an Idempotency-Key, so that a retry replays the first
-- response instead of acting twice. Nothing here shows the key's value or a
-- secret: lookup is a SHA-256 over the scope (the authenticating key, or the
-- client address) and the value; fingerprint an HMAC of the request under a
-- key derived from the value; response the response (which may show a new
-- key's secret) sealed with AES-256-GCM under another key derived from the
-- value. status is 0 while the first request runs. Records older than 24 h
-- are deleted as new ones are written.
CREATE TABLE idempotency_records (
	lookup      BLOB PRIMARY KEY,
	fingerprint BLOB NOT NULL,
	token       TEXT NOT NULL,
	created     INTEGER NOT NULL,
	status      INTEGER NOT NULL DEFAULT 0,
	response    BLOB,
	ended_key   INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX idempotency_records_created ON idempotency_records (created);
