-- Leases of keys' credits (see pihu.CreditLease): instance spent them
-- from the key's balance at once, and holds them to spend from memory.
-- held is what it still holds, as it last reported (never more than it
-- has unspent); refilled is the key's refilled when the lease was taken,
-- the balance it goes back to; expires_at is when any instance may give
-- held back to the key, if the lease was not renewed first. No foreign
-- key: a lease of a key that no longer exists is deleted when it expires.
CREATE TABLE credit_leases (
	key_id     text        NOT NULL,
	instance   text        NOT NULL,
	held       bigint      NOT NULL CHECK (held >= 0),
	refilled   timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (key_id, instance)
);
CREATE INDEX credit_leases_expires ON credit_leases (expires_at);
CREATE INDEX credit_leases_instance ON credit_leases (instance);
