-- Identities: the customer's own users or organisations that keys are
-- made for (see pihu.Identity), one account's and one environment's each,
-- external_id unique among those not deleted. A key belongs to at most
-- one (api_keys.identity_id), and every read of a key reads what requests
-- need of its identity with it (external_id, metadata, rate_limit), so
-- that the authenticator caches them with the key. metadata is a JSON
-- object or NULL; rate_limit "N/m" etc., '' for none; times unix
-- seconds. A deleted identity keeps its id and seq as a tombstone (a
-- valid list cursor) and frees its external_id; the keys that had it
-- lose it.
CREATE TABLE identities (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	id          TEXT    NOT NULL UNIQUE,
	account_id  TEXT    NOT NULL REFERENCES accounts (id),
	environment TEXT    NOT NULL,
	external_id TEXT    NOT NULL,
	metadata    TEXT,
	rate_limit  TEXT    NOT NULL DEFAULT '',
	created     INTEGER NOT NULL,
	updated     INTEGER NOT NULL,
	deleted     INTEGER
);

CREATE UNIQUE INDEX identities_external_id ON identities (account_id, environment, external_id) WHERE deleted IS NULL;
CREATE INDEX identities_account_seq ON identities (account_id, seq);

ALTER TABLE api_keys ADD COLUMN identity_id TEXT REFERENCES identities (id);

CREATE INDEX api_keys_identity ON api_keys (identity_id) WHERE identity_id IS NOT NULL;
