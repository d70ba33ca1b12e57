-- Roles: named sets of permissions of an account (see pihu.KeyRole),
-- shared by its live and test keys, and the roles each key holds. A key's
-- rights are its own permissions and its roles' as the roles are now, so
-- a role is read when its keys are checked (the authenticator keeps each
-- account's roles in memory), never copied into its keys. A deleted role
-- keeps its id and seq as a tombstone (a valid list cursor) and frees its
-- name; the keys that held it lose it (their key_roles rows are deleted
-- with it).
CREATE TABLE roles (
	seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id          text        NOT NULL UNIQUE,
	account_id  text        NOT NULL REFERENCES accounts (id),
	name        text        NOT NULL,
	description text        NOT NULL DEFAULT '',
	permissions text[]      NOT NULL,
	created     timestamptz NOT NULL,
	updated     timestamptz NOT NULL,
	deleted     timestamptz
);

CREATE UNIQUE INDEX roles_account_name ON roles (account_id, name) WHERE deleted IS NULL;
CREATE INDEX roles_account_seq ON roles (account_id, seq);

-- The roles of each key, in the order given (position).
CREATE TABLE key_roles (
	key_id   text    NOT NULL REFERENCES api_keys (id),
	role_id  text    NOT NULL REFERENCES roles (id),
	position integer NOT NULL,
	CONSTRAINT key_roles_pkey PRIMARY KEY (key_id, role_id)
);

CREATE INDEX key_roles_role ON key_roles (role_id);
