-- The Ed25519 keys that sign access tokens, shared by every instance. One
-- is active (retired IS NULL): the unique index on the expression below,
-- true for active rows only, allows at most one. Retired keys stay until
-- every token they signed has expired, and are then deleted. private_key
-- is the signing key itself: anyone with a copy of this table can mint
-- tokens until the key is rotated, as anyone with a copy of the database
-- can read its data.
CREATE TABLE signing_keys (
	id          TEXT PRIMARY KEY,
	algorithm   TEXT NOT NULL,
	public_key  BLOB NOT NULL,
	private_key BLOB NOT NULL,
	created     INTEGER NOT NULL,
	retired     INTEGER
);

CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((retired IS NULL)) WHERE retired IS NULL;
