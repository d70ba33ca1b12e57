-- Named rate limits (pihu.NamedLimits) of keys and identities, besides
-- their rate_limit: "name=limit" pairs, comma-separated, sorted by name
-- ("images=10/m,tokens=50000/d"); '' for none.
ALTER TABLE api_keys ADD COLUMN ratelimits TEXT NOT NULL DEFAULT '';
ALTER TABLE identities ADD COLUMN ratelimits TEXT NOT NULL DEFAULT '';
