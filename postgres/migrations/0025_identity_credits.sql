-- Usage credits of identities (see pihu.Identity.Credits), as a key's
-- (0003): every request of any of its keys spends them. remaining is
-- NULL for an identity whose use is not counted; refilled is when
-- remaining was last set. Leases of an identity's credits are recorded in
-- credit_leases under the identity's id ("idt_…"), as a key's are under
-- the key's.
ALTER TABLE identities ADD COLUMN remaining bigint CHECK (remaining >= 0);
ALTER TABLE identities ADD COLUMN refill_interval text CHECK (refill_interval IN ('daily', 'monthly'));
ALTER TABLE identities ADD COLUMN refill_amount bigint;
ALTER TABLE identities ADD COLUMN refill_day integer;
ALTER TABLE identities ADD COLUMN refilled timestamptz;
