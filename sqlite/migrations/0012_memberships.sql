-- A person (users: one a unique email) may belong to several accounts, each
-- with a role of its own; an invite is the account's own until its link is
-- used, and never reserves its email elsewhere.

-- Which people belong to which accounts, with what role. seq orders an
-- account's members, and a person's accounts, by when they joined.
CREATE TABLE memberships (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id    TEXT NOT NULL REFERENCES users (id),
	account_id TEXT NOT NULL REFERENCES accounts (id),
	role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
	created    INTEGER NOT NULL,
	UNIQUE (account_id, user_id)
);

CREATE INDEX memberships_user ON memberships (user_id, seq);

-- Pending and past invites: an email and a role in one account, and only
-- the SHA-256 of the link's token. Pending while accepted and canceled are
-- NULL and expires is in the future. No constraint ties email to users:
-- an invite reserves nothing.
CREATE TABLE invites (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT NOT NULL UNIQUE,
	account_id TEXT NOT NULL REFERENCES accounts (id),
	email      TEXT NOT NULL,
	role       TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
	digest     BLOB NOT NULL UNIQUE,
	invited_by TEXT NOT NULL,
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	accepted   INTEGER,
	canceled   INTEGER
);

CREATE INDEX invites_account_email ON invites (account_id, email);

-- Every user so far belonged to one account.
INSERT INTO memberships (user_id, account_id, role, created)
	SELECT id, account_id, role, created FROM users ORDER BY seq;

-- Users invited before this version who never used their link held their
-- email server-wide. Their unused invite links become invites (the same
-- tokens work), and the placeholder users go: the email is free again.
INSERT INTO invites (id, account_id, email, role, digest, invited_by, created, expires)
	SELECT 'inv_' || lower(hex(randomblob(11))), l.account_id, u.email, u.role, l.digest, '', l.created, l.expires
	FROM links l JOIN users u ON u.id = l.user_id
	WHERE l.purpose = 'invite' AND l.used IS NULL AND u.password_hash = '' AND u.email IS NOT NULL
		AND u.role IN ('admin', 'viewer');

DELETE FROM links WHERE user_id IN (SELECT id FROM users WHERE password_hash = '' AND email IS NOT NULL);
DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE password_hash = '' AND email IS NOT NULL);
DELETE FROM memberships WHERE user_id IN (SELECT id FROM users WHERE password_hash = '' AND email IS NOT NULL);
DELETE FROM users WHERE password_hash = '' AND email IS NOT NULL;

-- A user's account and role are their memberships'.
DROP INDEX users_account_seq;
ALTER TABLE users DROP COLUMN account_id;
ALTER TABLE users DROP COLUMN role;
