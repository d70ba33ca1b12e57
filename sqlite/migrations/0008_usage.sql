-- How many requests each key made each hour: allowed are those let
-- through, refused those refused after the key was recognised (rate
-- limited, an address outside allowed_ips, a missing permission). hour is
-- the unix second the hour starts at, UTC. Counts are added in batches off
-- the request path; hours older than 90 days are deleted as new counts are
-- written.
CREATE TABLE api_key_usage (
	key_id  TEXT NOT NULL REFERENCES api_keys (id),
	hour    INTEGER NOT NULL,
	allowed INTEGER NOT NULL DEFAULT 0,
	refused INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (key_id, hour)
) WITHOUT ROWID;

CREATE INDEX api_key_usage_hour ON api_key_usage (hour);
