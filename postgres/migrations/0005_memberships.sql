-- A person (users: one a unique email) may belong to several accounts, each
-- with a role of its own; an invite is the account's own until its link is
-- used, and never reserves its email elsewhere.

-- Which people belong to which accounts, with what role. seq orders an
-- account's members, and a person's accounts, by when they joined.
CREATE TABLE memberships (
	seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id    text NOT NULL REFERENCES users (id),
	account_id text NOT NULL REFERENCES accounts (id),
	role       text NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
	created    timestamptz NOT NULL,
	UNIQUE (account_id, user_id)
);

CREATE INDEX memberships_user ON memberships (user_id, seq);

-- Pending and past invites: an email and a role in one account, and only
-- the SHA-256 of the link's token. Pending while accepted and canceled are
-- NULL and expires is in the future. No constraint ties email to users:
-- an invite reserves nothing.
CREATE TABLE invites (
	seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id         text NOT NULL UNIQUE,
	account_id text NOT NULL REFERENCES accounts (id),
	email      text NOT NULL,
	role       text NOT NULL CHECK (role IN ('admin', 'viewer')),
	digest     bytea NOT NULL UNIQUE,
	invited_by text NOT NULL,
	created    timestamptz NOT NULL,
	expires    timestamptz NOT NULL,
	accepted   timestamptz,
	canceled   timestamptz
);

CREATE INDEX invites_account_email ON invites (account_id, email);

-- Every user so far belonged to one account.
INSERT INTO memberships (user_id, account_id, role, created)
	SELECT id, account_id, role, created FROM users ORDER BY seq;

-- Users invited before this version who never used their link held their
-- email server-wide. Their unused invite links become invites (the same
-- tokens work), and the placeholder users go: the email is free again.
INSERT INTO invites (id, account_id, email, role, digest, invited_by, created, expires)
	SELECT 'inv_' || substr(md5(random()::text || l.digest::text), 1, 22), l.account_id, u.email, u.role, l.digest, '', l.created, l.expires
	FROM links l JOIN users u ON u.id = l.user_id
	WHERE l.purpose = 'invite' AND l.used IS NULL AND u.password_hash = '' AND u.email IS NOT NULL
		AND u.role IN ('admin', 'viewer');

DELETE FROM links WHERE user_id IN (SELECT id FROM users WHERE password_hash = '' AND email IS NOT NULL);
DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE password_hash = '' AND email IS NOT NULL);
DELETE FROM memberships WHERE user_id IN (SELECT id FROM users WHERE password_hash = '' AND email IS NOT NULL);
DELETE FROM users WHERE password_hash = '' AND email IS NOT NULL;

-- A user's account and role are their memberships'.
ALTER TABLE users DROP COLUMN account_id, DROP COLUMN role;
