-- The Ed25519 keys that sign access tokens, shared by every instance. One
-- is active (retired IS NULL): the unique index on the expression below,
-- true for active rows only, allows at most one. Retired keys stay until
-- every token they signed has expired, and are then deleted. private_key
-- is the signing key itself: anyone with a copy of this table can mint
-- tokens until the key is rotated, as anyone with a copy of the database
-- can read its data. seq orders keys created in the same second.
CREATE TABLE signing_keys (
	seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	id          text PRIMARY KEY,
	algorithm   text NOT NULL,
	public_key  bytea NOT NULL,
	private_key bytea NOT NULL,
	created     timestamptz NOT NULL,
	retired     timestamptz
);

CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((retired IS NULL)) WHERE retired IS NULL;
