-- Whether a key works: false for a key disabled with PATCH (enabled:
-- false), which is refused everywhere with disabled_api_key, it and the
-- access tokens minted from it, until it is enabled again. Unlike a
-- revocation it can be undone. Every key stored before this migration is
-- enabled.
ALTER TABLE api_keys ADD COLUMN enabled boolean NOT NULL DEFAULT true;
