-- Why refused requests were refused, as the error code the client got
-- (pihu.Refusal): refused stays the total, and these split it. Hours
-- counted before this version have refusals without a reason: refused is
-- then more than their sum.
ALTER TABLE api_key_usage ADD COLUMN rate_limited INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_key_usage ADD COLUMN ip_not_allowed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_key_usage ADD COLUMN insufficient_permissions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_key_usage ADD COLUMN usage_exceeded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_key_usage ADD COLUMN disabled_api_key INTEGER NOT NULL DEFAULT 0;
