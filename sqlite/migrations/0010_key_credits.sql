-- What a key carries besides its rights: metadata (a JSON object of at
-- most 4 KiB, compacted), usage credits with their refill, and whether it
-- was imported by the SHA-256 of a secret made elsewhere. remaining is
-- NULL for a key whose use is not counted; refilled is when remaining was
-- last set (Unix seconds), from which a refill due since is applied at
-- the next spend. changes names the fields an api_key.updated event
-- changed (a JSON array), never their values.
ALTER TABLE api_keys ADD COLUMN metadata TEXT;
ALTER TABLE api_keys ADD COLUMN remaining INTEGER;
ALTER TABLE api_keys ADD COLUMN refill_interval TEXT;
ALTER TABLE api_keys ADD COLUMN refill_amount INTEGER;
ALTER TABLE api_keys ADD COLUMN refill_day INTEGER;
ALTER TABLE api_keys ADD COLUMN refilled INTEGER;
ALTER TABLE api_keys ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_events ADD COLUMN changes TEXT;
