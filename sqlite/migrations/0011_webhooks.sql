-- Webhooks: the endpoints an account's events are posted to, the outbox of
-- events, and their deliveries. Events of key changes are written in the
-- transaction of the change, so a change committed has its deliveries
-- committed: a crash loses none.
--
-- webhook_endpoints.secret signs the deliveries and is stored as it is:
-- signing needs it. A deleted endpoint keeps its id, scope and seq as a
-- tombstone (a valid list cursor) and loses its url and secret.
CREATE TABLE webhook_endpoints (
	seq           INTEGER PRIMARY KEY AUTOINCREMENT,
	id            TEXT NOT NULL UNIQUE,
	account_id    TEXT NOT NULL REFERENCES accounts (id),
	environment   TEXT NOT NULL CHECK (environment IN ('live', 'test')),
	url           TEXT NOT NULL,
	description   TEXT NOT NULL,
	events        TEXT NOT NULL,
	enabled       INTEGER NOT NULL,
	secret        TEXT NOT NULL,
	created       INTEGER NOT NULL,
	failing_since INTEGER,
	deleted       INTEGER
);

CREATE INDEX webhook_endpoints_scope_seq ON webhook_endpoints (account_id, environment, seq);

-- An event and the body of its deliveries, fixed when it happened. dedupe,
-- when set, names an event that must be sent once however many instances
-- notice it (an expiring key, an hour of rate limiting).
CREATE TABLE webhook_events (
	id          TEXT PRIMARY KEY,
	account_id  TEXT NOT NULL,
	environment TEXT NOT NULL,
	type        TEXT NOT NULL,
	created     INTEGER NOT NULL,
	payload     BLOB NOT NULL,
	dedupe      TEXT UNIQUE
);

-- One event on its way to one endpoint. attempts is a JSON array of every
-- attempt; lease and lease_until hold a dispatcher's claim.
CREATE TABLE webhook_deliveries (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	id           TEXT NOT NULL UNIQUE,
	endpoint_id  TEXT NOT NULL REFERENCES webhook_endpoints (id),
	event_id     TEXT NOT NULL REFERENCES webhook_events (id),
	event_type   TEXT NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
	attempts     TEXT NOT NULL DEFAULT '[]',
	next_attempt INTEGER,
	lease        TEXT,
	lease_until  INTEGER NOT NULL DEFAULT 0,
	created      INTEGER NOT NULL
);

CREATE INDEX webhook_deliveries_endpoint_seq ON webhook_deliveries (endpoint_id, seq);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created);
CREATE INDEX webhook_events_created ON webhook_events (created);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt) WHERE status = 'pending';
