-- The request log (pihu.RequestLogEntry): requests made with keys, written
-- in batches off the request path, pruned by age and per account. No
-- secret, no query string. omitted > 0 marks requests left out of the log.
CREATE TABLE request_log (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT NOT NULL UNIQUE,
	request_id TEXT NOT NULL,
	account_id TEXT NOT NULL,
	key_id     TEXT NOT NULL,
	token_id   TEXT NOT NULL DEFAULT '',
	created    INTEGER NOT NULL,
	door       TEXT NOT NULL,
	method     TEXT NOT NULL,
	path       TEXT NOT NULL,
	status     INTEGER NOT NULL,
	ip         TEXT NOT NULL,
	code       TEXT NOT NULL DEFAULT '',
	omitted    INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX request_log_account_seq ON request_log (account_id, seq);
CREATE INDEX request_log_key_seq ON request_log (key_id, seq);
CREATE INDEX request_log_created ON request_log (created);
