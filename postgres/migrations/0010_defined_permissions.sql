-- Permissions that accounts define for the services behind their
-- gateways, and that the operator defines for every account
-- (server-wide: account_id ''), besides the built-in ones (see
-- pihu.DefinedPermission). Keys hold permissions by name in their own
-- permissions column: this table is read when keys are made or changed,
-- never to check a request.
CREATE TABLE defined_permissions (
	account_id  text        NOT NULL,
	name        text        NOT NULL,
	description text        NOT NULL DEFAULT '',
	created     timestamptz NOT NULL,
	CONSTRAINT defined_permissions_pkey PRIMARY KEY (account_id, name)
);
