-- Usage credits of identities (see pihu.Identity.Credits), as a key's
-- (0010): every request of any of its keys spends them. remaining is
-- NULL for an identity whose use is not counted; refilled is when
-- remaining was last set (Unix seconds). Leases of an identity's credits
-- are recorded in credit_leases under the identity's id ("idt_…"), as a
-- key's are under the key's.
ALTER TABLE identities ADD COLUMN remaining INTEGER;
ALTER TABLE identities ADD COLUMN refill_interval TEXT;
ALTER TABLE identities ADD COLUMN refill_amount INTEGER;
ALTER TABLE identities ADD COLUMN refill_day INTEGER;
ALTER TABLE identities ADD COLUMN refilled INTEGER;
