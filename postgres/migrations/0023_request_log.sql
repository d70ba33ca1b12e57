-- The request log (pihu.RequestLogEntry): requests made with keys, written
-- in batches off the request path, pruned by age and per account. No
-- secret, no query string. omitted > 0 marks requests left out of the log.
CREATE TABLE request_log (
	seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id         text NOT NULL UNIQUE,
	request_id text NOT NULL,
	account_id text NOT NULL,
	key_id     text NOT NULL,
	token_id   text NOT NULL DEFAULT '',
	created    timestamptz NOT NULL,
	door       text NOT NULL,
	method     text NOT NULL,
	path       text NOT NULL,
	status     integer NOT NULL,
	ip         text NOT NULL,
	code       text NOT NULL DEFAULT '',
	omitted    bigint NOT NULL DEFAULT 0
);

CREATE INDEX request_log_account_seq ON request_log (account_id, seq);
CREATE INDEX request_log_key_seq ON request_log (key_id, seq);
CREATE INDEX request_log_created ON request_log (created);
