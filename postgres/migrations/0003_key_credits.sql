-- What a key carries besides its rights: metadata (a JSON object of at
-- most 4 KiB, compacted, kept as text so that it reads back byte for
-- byte), usage credits with their refill, and whether it was imported by
-- the SHA-256 of a secret made elsewhere. remaining is NULL for a key
-- whose use is not counted; refilled is when remaining was last set, from
-- which a refill due since is applied at the next spend. changes names
-- the fields an api_key.updated event changed, never their values.
ALTER TABLE api_keys ADD COLUMN metadata text;
ALTER TABLE api_keys ADD COLUMN remaining bigint CHECK (remaining >= 0);
ALTER TABLE api_keys ADD COLUMN refill_interval text CHECK (refill_interval IN ('daily', 'monthly'));
ALTER TABLE api_keys ADD COLUMN refill_amount bigint;
ALTER TABLE api_keys ADD COLUMN refill_day integer;
ALTER TABLE api_keys ADD COLUMN refilled timestamptz;
ALTER TABLE api_keys ADD COLUMN imported boolean NOT NULL DEFAULT false;
ALTER TABLE audit_events ADD COLUMN changes text[];
