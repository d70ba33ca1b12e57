-- Passkey challenges waiting for the authenticator's answer, in the
-- database so that the answer may reach any instance; each is taken once.
-- No secret: the challenge is sent to the browser.
CREATE TABLE passkey_challenges (
	challenge      TEXT PRIMARY KEY,
	session        BLOB NOT NULL,
	register       INTEGER NOT NULL,
	user_id        TEXT NOT NULL,
	session_digest BLOB,
	expires        INTEGER NOT NULL
);
CREATE INDEX passkey_challenges_expires ON passkey_challenges (expires);
