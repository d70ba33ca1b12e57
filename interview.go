package pihu

import (
	"context"
	"strings"
	"time"
)

// InterviewStatus is where an interview stands.
type InterviewStatus string

// StatusScheduled is the status of every new interview. The API has no way
// yet to change it, so it is the only status there is.
const StatusScheduled InterviewStatus = "scheduled"

// Interview is an interview of one candidate for one position. It belongs
// to the account and environment of its candidate.
type Interview struct {
	ID          string
	AccountID   string
	Environment Environment
	CandidateID string
	Position    string
	ScheduledAt *time.Time // nil: not scheduled at a time yet
	Status      InterviewStatus
	Created     time.Time
}

// maxPosition is the longest position title, in characters (runes).
const maxPosition = 200

// Validate checks the interview's own fields (not that its candidate
// exists, which only a store can tell). Returns EParameterMissing or
// EParameterInvalid with the field as Param.
func (iv *Interview) Validate() error {
	if iv.CandidateID == "" {
		return ParamErrorf(EParameterMissing, "candidate_id", "An interview needs a candidate: give \"candidate_id\", the id of a candidate (cand_…).")
	}
	if iv.Position == "" {
		return ParamErrorf(EParameterMissing, "position", "An interview needs a position: give \"position\", 1 to %d characters, such as \"Backend engineer\".", maxPosition)
	}
	if strings.TrimSpace(iv.Position) == "" {
		return ParamErrorf(EParameterInvalid, "position", "The position is only spaces; give the title of the position.")
	}
	if n := len([]rune(iv.Position)); n > maxPosition {
		return ParamErrorf(EParameterInvalid, "position", "The position is %d characters long; at most %d are allowed.", n, maxPosition)
	}
	if iv.Status != StatusScheduled {
		return ParamErrorf(EParameterInvalid, "status", "%q is not an interview status; use \"scheduled\".", string(iv.Status))
	}
	return nil
}

// ParseScheduledAt parses an interview time: RFC 3339 with any offset,
// returned in UTC, truncated to the second. A fraction of a second, as
// Go's time.Now() or JavaScript's toISOString() give, is accepted and
// dropped (times are to the second everywhere in the API). Returns
// EParameterInvalid on "scheduled_at" for anything else.
func ParseScheduledAt(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, ParamErrorf(EParameterInvalid, "scheduled_at",
			"%q is not an RFC 3339 time: give one such as \"2024-03-01T14:30:00Z\" or \"2024-03-01T15:30:00+01:00\".", s)
	}
	return t.UTC().Truncate(time.Second), nil
}

// NewInterview builds a scheduled interview of the account and environment
// of the key that creates it, at now, and validates it.
func NewInterview(creator *Key, candidateID, position string, scheduledAt *time.Time, now time.Time) (*Interview, error) {
	iv := &Interview{
		ID:          NewID(PrefixInterview),
		AccountID:   creator.AccountID,
		Environment: creator.Environment,
		CandidateID: candidateID,
		Position:    position,
		ScheduledAt: scheduledAt,
		Status:      StatusScheduled,
		Created:     Timestamp(now),
	}
	if err := iv.Validate(); err != nil {
		return nil, err
	}
	return iv, nil
}

// InterviewStore keeps interviews. Implementations are safe for concurrent
// use.
type InterviewStore interface {
	// CreateInterview stores iv, whose ID must be new, if its candidate
	// exists in iv's account and environment and is not deleted; the check
	// and the write are atomic, so that no interview outlives its
	// candidate. Returns EParameterInvalid on "candidate_id" otherwise.
	CreateInterview(ctx context.Context, iv *Interview) error

	// Interview returns the interview id in scope s. Returns ENotFound if
	// it does not exist, was deleted, or is outside s.
	Interview(ctx context.Context, s Scope, id string) (*Interview, error)

	// ListInterviews returns a page of the interviews in scope s, newest
	// first, and whether more follow. Returns EParameterInvalid on
	// "starting_after" or "ending_before" if that id was never an
	// interview in s, or on "ending_before" if both are given (see
	// Page.EndingBefore).
	ListInterviews(ctx context.Context, s Scope, p Page) (interviews []*Interview, hasMore bool, err error)

	// DeleteInterview deletes the interview id in scope s. Its data is
	// erased; its id stays valid as a list cursor. Returns ENotFound as
	// Interview does.
	DeleteInterview(ctx context.Context, s Scope, id string) error
}
