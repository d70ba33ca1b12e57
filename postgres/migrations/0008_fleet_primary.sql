-- The primary the instances write to, as they last checked it: the
-- cluster's system identifier and the latest timeline seen. One row. The
-- database's own memory of the primary it was written on, against which an
-- instance checks the server it is given (see pihu.Primary.Admit).
CREATE TABLE fleet_primary (
	id                boolean PRIMARY KEY DEFAULT true CHECK (id),
	system_identifier bigint      NOT NULL,
	timeline          bigint      NOT NULL,
	recorded_at       timestamptz NOT NULL
);
