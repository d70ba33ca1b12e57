-- Why refused requests were refused, as the error code the client got
-- (pihu.Refusal): refused stays the total, and these split it. Hours
-- counted before this version have refusals without a reason: refused is
-- then more than their sum.
ALTER TABLE api_key_usage
	ADD COLUMN rate_limited bigint NOT NULL DEFAULT 0,
	ADD COLUMN ip_not_allowed bigint NOT NULL DEFAULT 0,
	ADD COLUMN insufficient_permissions bigint NOT NULL DEFAULT 0,
	ADD COLUMN usage_exceeded bigint NOT NULL DEFAULT 0,
	ADD COLUMN disabled_api_key bigint NOT NULL DEFAULT 0;
