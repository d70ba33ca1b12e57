-- Who created each key: the id of the key that created it (or rotated the
-- key it replaced), NULL for an account's owner keys, made by an operator.
-- Revoking a key may cascade to every key created by it, recursively, so
-- the column is indexed by account and creator.
ALTER TABLE api_keys ADD COLUMN created_by TEXT;

CREATE INDEX api_keys_account_created_by ON api_keys (account_id, created_by);

-- A key is rotated at most once: rotating looks for a key naming it in
-- rotated_from. (Not a unique index: databases from before this rule may
-- hold keys rotated twice, and the check inside the rotation's write
-- transaction is what enforces it.)
CREATE INDEX api_keys_rotated_from ON api_keys (rotated_from) WHERE rotated_from IS NOT NULL;
