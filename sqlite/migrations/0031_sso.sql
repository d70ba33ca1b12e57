-- Single sign-on: an account may turn password and passkey sign-in off
-- for its members, who then sign in through an OpenID Connect provider.
ALTER TABLE accounts ADD COLUMN sso_required INTEGER NOT NULL DEFAULT 0;
