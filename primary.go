package pihu

import (
	"context"
	"fmt"
)

// Primary names the PostgreSQL primary a store writes to, by what a
// failover changes: the cluster's system identifier (pg_control_system(),
// the same on a primary and on every replica made from it) and the
// timeline (pg_control_checkpoint()), which a replica promoted to primary
// raises by one. Of two servers of one cluster that both accept writes
// after a failover, the one on the older timeline is the old primary: its
// writes are lost to the fleet, and a key created there is unknown on the
// new primary. The zero Primary is "unknown".
type Primary struct {
	// SystemID is the cluster's system identifier.
	SystemID int64
	// Timeline is the primary's timeline (1 for a cluster never failed
	// over).
	Timeline int64
	// Standby is true if the server is a read-only replica (in recovery):
	// it takes no writes, so no store can run on it.
	Standby bool
}

// IsZero reports whether p is unknown.
func (p Primary) IsZero() bool { return p.SystemID == 0 && p.Timeline == 0 }

func (p Primary) String() string {
	return fmt.Sprintf("system %d, timeline %d", p.SystemID, p.Timeline)
}

// Newer returns whichever of p and q the fleet has moved on to: the one on
// the later timeline of one system; p when they are of different systems
// or either is unknown (a different system is not "newer": see Admit).
func (p Primary) Newer(q Primary) Primary {
	if p.IsZero() {
		return q
	}
	if q.SystemID == p.SystemID && q.Timeline > p.Timeline {
		return q
	}
	return p
}

// Admit decides whether an instance may write to the server p, given the
// primary the fleet of instances has recorded (fleet, zero if none yet).
// It returns nil, or EUnavailable with a message an operator can act on:
// p is a standby; p is of another cluster than the fleet's; or p is on an
// older timeline than the fleet has seen for its cluster, which is the
// old primary of a failover come back writable. This is the one rule of
// split detection: every instance applies it to every primary it is
// given, whatever told it the fleet's record (Redis, the database, its
// own memory).
func (fleet Primary) Admit(p Primary) error {
	switch {
	case p.Standby:
		return Errorf(EUnavailable, "The database is a read-only standby (%s): point --database at the primary, e.g. with target_session_attrs=read-write in a multi-host URL.", p)
	case fleet.IsZero():
		return nil
	case p.SystemID != fleet.SystemID:
		return Errorf(EUnavailable, "The database (%s) is not the PostgreSQL cluster the other instances write to (%s): refusing it so that the fleet does not split. If the fleet really moved to a new cluster, see the runbook for a new cluster in docs/operations.md.", p, fleet)
	case p.Timeline < fleet.Timeline:
		return Errorf(EUnavailable, "The database (%s) is on an older timeline than the primary the other instances write to (%s): it is the old primary of a failover, come back writable. Refusing it so that the fleet does not split; fence it (stop it or make it a replica of the new primary).", p, fleet)
	}
	return nil
}

// PrimaryStore is implemented by the stores on a database server that can
// fail over (PostgreSQL), so that instances can tell whether they all
// write to the same primary. Implementations are safe for concurrent use.
type PrimaryStore interface {
	// Primary returns the identity of the server the store writes to.
	// Returns EUnavailable if it cannot be reached.
	Primary(ctx context.Context) (Primary, error)
	// RecordPrimary records p in the database itself, where the
	// instances writing there read it (the database's own memory of the
	// primary it was written on), and returns what was recorded before:
	// zero if nothing, or if it was of another system (a copy restored
	// from a dump, which carries the record of its source).
	RecordPrimary(ctx context.Context, p Primary) (Primary, error)
}
