-- Permissions that accounts define for the services behind their
-- gateways, and that the operator defines for every account
-- (server-wide: account_id ''), besides the built-in ones (see
-- pihu.DefinedPermission). Keys hold permissions by name in their own
-- permissions column: this table is read when keys are made or changed,
-- never to check a request. created is unix seconds.
CREATE TABLE defined_permissions (
	account_id  TEXT    NOT NULL,
	name        TEXT    NOT NULL,
	description TEXT    NOT NULL DEFAULT '',
	created     INTEGER NOT NULL,
	PRIMARY KEY (account_id, name)
);
