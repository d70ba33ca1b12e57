-- Passkey challenges waiting for the authenticator's answer, in the
-- database so that the answer may reach any instance; each is taken once.
-- No secret: the challenge is sent to the browser.
CREATE TABLE passkey_challenges (
	challenge      text PRIMARY KEY,
	session        bytea NOT NULL,
	register       boolean NOT NULL,
	user_id        text NOT NULL,
	session_digest bytea,
	expires        timestamptz NOT NULL
);
CREATE INDEX passkey_challenges_expires ON passkey_challenges (expires);
