-- Webhooks: the endpoints an account's events are posted to, the outbox of
-- events, and their deliveries. Events of key changes are written in the
-- transaction of the change, so a change committed has its deliveries
-- committed: a crash loses none.
--
-- webhook_endpoints.secret signs the deliveries and is stored as it is:
-- signing needs it. A deleted endpoint keeps its id, scope and seq as a
-- tombstone (a valid list cursor) and loses its url and secret.
CREATE TABLE webhook_endpoints (
	seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id            text NOT NULL UNIQUE,
	account_id    text NOT NULL REFERENCES accounts (id),
	environment   text NOT NULL CHECK (environment IN ('live', 'test')),
	url           text NOT NULL,
	description   text NOT NULL,
	events        text[] NOT NULL,
	enabled       boolean NOT NULL,
	secret        text NOT NULL,
	created       timestamptz NOT NULL,
	failing_since timestamptz,
	deleted       timestamptz
);

CREATE INDEX webhook_endpoints_scope_seq ON webhook_endpoints (account_id, environment, seq);

-- An event and the body of its deliveries, fixed when it happened. dedupe,
-- when set, names an event that must be sent once however many instances
-- notice it (an expiring key, an hour of rate limiting).
CREATE TABLE webhook_events (
	id          text PRIMARY KEY,
	account_id  text NOT NULL,
	environment text NOT NULL,
	type        text NOT NULL,
	created     timestamptz NOT NULL,
	payload     bytea NOT NULL,
	dedupe      text UNIQUE
);

-- One event on its way to one endpoint. attempts holds every attempt;
-- lease and lease_until hold a dispatcher's claim.
CREATE TABLE webhook_deliveries (
	seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id           text NOT NULL UNIQUE,
	endpoint_id  text NOT NULL REFERENCES webhook_endpoints (id),
	event_id     text NOT NULL REFERENCES webhook_events (id),
	event_type   text NOT NULL,
	status       text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
	attempts     jsonb NOT NULL DEFAULT '[]',
	next_attempt timestamptz,
	lease        text,
	lease_until  timestamptz NOT NULL DEFAULT '-infinity',
	created      timestamptz NOT NULL
);

CREATE INDEX webhook_deliveries_endpoint_seq ON webhook_deliveries (endpoint_id, seq);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created);
CREATE INDEX webhook_events_created ON webhook_events (created);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt) WHERE status = 'pending';
