-- Keys found in public (GitHub's secret scanning partner reports, and
-- reports to /v1/auth/leaked-keys). accounts.leak_policy is what is done
-- with such a key: 'revoke' it at once (the default) or 'flag' it and
-- notify. api_keys.leaked is the last report that revoked or flagged the
-- key, a JSON object {at, by, url, source, revoked} (never the key), shown
-- on the key's dashboard page. url and source say, on an api_key.leaked
-- audit event, where the key was found.
ALTER TABLE accounts ADD COLUMN leak_policy text NOT NULL DEFAULT 'revoke' CHECK (leak_policy IN ('revoke', 'flag'));
ALTER TABLE api_keys ADD COLUMN leaked text;
ALTER TABLE audit_events ADD COLUMN url text;
ALTER TABLE audit_events ADD COLUMN source text;
