-- The schema of the PostgreSQL store: the SQLite store's migrations 0001 to
-- 0008 in one, since no PostgreSQL database predates this file. Times are
-- timestamptz to the second (the API shows seconds); digests are bytea;
-- lists are text[]. seq, an identity column, orders each list newest first
-- and is the pagination cursor behind an id, as in SQLite.

-- Accounts own keys and data.
CREATE TABLE accounts (
	seq     bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	id      text PRIMARY KEY,
	name    text NOT NULL,
	created timestamptz NOT NULL
);

-- API keys. Only the SHA-256 of a key is kept, never the key: digest is the
-- index a presented key is looked up by. A key with revoked set is
-- revoked. created_by is the key that created it (or rotated the key it
-- replaced), NULL for an account's owner keys, made by an operator.
CREATE TABLE api_keys (
	seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id           text NOT NULL UNIQUE,
	account_id   text NOT NULL REFERENCES accounts (id),
	name         text NOT NULL,
	environment  text NOT NULL CHECK (environment IN ('live', 'test')),
	permissions  text[] NOT NULL,
	digest       bytea NOT NULL UNIQUE,
	hint         text NOT NULL,
	created      timestamptz NOT NULL,
	expires      timestamptz,
	last_used    timestamptz,
	revoked      timestamptz,
	rotated_from text,
	rate_limit   text NOT NULL DEFAULT '', -- "N/m" etc.; '' means the server's default
	allowed_ips  text[],                   -- addresses and CIDR ranges; NULL means anywhere
	created_by   text
);

CREATE INDEX api_keys_account_seq ON api_keys (account_id, seq);
CREATE INDEX api_keys_account_created_by ON api_keys (account_id, created_by);
-- A key is rotated at most once: rotating looks for a key naming it in
-- rotated_from, inside the transaction that holds the old key's row lock.
CREATE INDEX api_keys_rotated_from ON api_keys (rotated_from) WHERE rotated_from IS NOT NULL;

-- The audit log: every change to a key or user, who made it and from where,
-- written in the same transaction as the change. environment is the target
-- key's (NULL for an event about no key). Never a secret in it.
CREATE TABLE audit_events (
	seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id          text NOT NULL UNIQUE,
	account_id  text NOT NULL REFERENCES accounts (id),
	environment text CHECK (environment IN ('live', 'test')),
	action      text NOT NULL,
	actor       text NOT NULL,
	target      text NOT NULL,
	ip          text NOT NULL,
	created     timestamptz NOT NULL
);

CREATE INDEX audit_events_account_seq ON audit_events (account_id, seq);

-- Candidates and interviews: the data the permissions guard, each row of an
-- account and an environment. A deleted row keeps its id, scope and seq as
-- a tombstone (a valid cursor) and loses everything else.
CREATE TABLE candidates (
	seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id          text NOT NULL UNIQUE,
	account_id  text NOT NULL REFERENCES accounts (id),
	environment text NOT NULL CHECK (environment IN ('live', 'test')),
	name        text NOT NULL,
	email       text NOT NULL,
	created     timestamptz NOT NULL,
	deleted     timestamptz
);

CREATE INDEX candidates_scope_seq ON candidates (account_id, environment, seq);

CREATE TABLE interviews (
	seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id           text NOT NULL UNIQUE,
	account_id   text NOT NULL REFERENCES accounts (id),
	environment  text NOT NULL CHECK (environment IN ('live', 'test')),
	candidate_id text NOT NULL REFERENCES candidates (id) ON DELETE CASCADE,
	position     text NOT NULL,
	scheduled_at timestamptz,
	status       text NOT NULL,
	created      timestamptz NOT NULL,
	deleted      timestamptz
);

CREATE INDEX interviews_scope_seq ON interviews (account_id, environment, seq);
CREATE INDEX interviews_candidate ON interviews (candidate_id);

-- Requests sent with an Idempotency-Key. Nothing here shows the key's value
-- or a secret: lookup is a SHA-256 over the scope and the value;
-- fingerprint an HMAC of the request; response sealed with AES-256-GCM
-- under a key derived from the value. status is 0 while the first request
-- runs. Records older than 24 h are deleted as new ones are written.
CREATE TABLE idempotency_records (
	lookup      bytea PRIMARY KEY,
	fingerprint bytea NOT NULL,
	token       text NOT NULL,
	created     timestamptz NOT NULL,
	status      integer NOT NULL DEFAULT 0,
	response    bytea,
	ended_key   boolean NOT NULL DEFAULT false
);

CREATE INDEX idempotency_records_created ON idempotency_records (created);

-- Dashboard users. email is lower-cased and unique across accounts; NULL
-- until set. password_hash is an argon2id PHC string, '' until set.
CREATE TABLE users (
	seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id               text NOT NULL UNIQUE,
	account_id       text NOT NULL REFERENCES accounts (id),
	email            text,
	password_hash    text NOT NULL DEFAULT '',
	role             text NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
	created          timestamptz NOT NULL,
	password_changed timestamptz
);

CREATE UNIQUE INDEX users_email ON users (email) WHERE email IS NOT NULL;
CREATE INDEX users_account_seq ON users (account_id, seq);

-- Signed-in browsers: only the SHA-256 of the cookie's random id is kept.
CREATE TABLE sessions (
	digest     bytea PRIMARY KEY,
	user_id    text NOT NULL REFERENCES users (id),
	account_id text NOT NULL REFERENCES accounts (id),
	created    timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	expires    timestamptz NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);

-- One-time links (setup, invite): only the SHA-256 of the token is kept. A
-- link is used once: used is set in the transaction that uses it.
CREATE TABLE links (
	digest     bytea PRIMARY KEY,
	user_id    text NOT NULL REFERENCES users (id),
	account_id text NOT NULL REFERENCES accounts (id),
	purpose    text NOT NULL CHECK (purpose IN ('setup', 'invite')),
	created    timestamptz NOT NULL,
	expires    timestamptz NOT NULL,
	used       timestamptz
);

CREATE INDEX links_user ON links (user_id);

-- How many requests each key made each hour (allowed, and refused after the
-- key was recognised). hour is the start of the hour, UTC. Counts are added
-- (never overwritten) in batches off the request path, so that several
-- instances flushing the same key and hour lose nothing; hours older than
-- 90 days are deleted as new counts are written.
CREATE TABLE api_key_usage (
	key_id  text NOT NULL REFERENCES api_keys (id),
	hour    timestamptz NOT NULL,
	allowed bigint NOT NULL DEFAULT 0,
	refused bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (key_id, hour)
);

CREATE INDEX api_key_usage_hour ON api_key_usage (hour);
