-- A rolled webhook signing secret: the secret a roll replaced keeps
-- signing deliveries, beside the new one, until previous_secret_expires,
-- so that receivers can change theirs meanwhile.
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_expires INTEGER;
