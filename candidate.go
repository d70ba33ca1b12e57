package pihu

import (
	"context"
	"net/mail"
	"strings"
	"time"
)

// Candidate is a person an account interviews. Like every piece of data it
// belongs to one account and one environment: a test key never sees a live
// candidate, and another account's candidate does not exist for a caller.
type Candidate struct {
	ID          string
	AccountID   string
	Environment Environment
	Name        string
	Email       string
	Created     time.Time
}

// Limits of a candidate's fields, in characters (runes).
const (
	maxCandidateName = 200
	// maxEmail is the longest address SMTP can carry (RFC 5321 §4.5.3.1.3
	// limits a path to 256 octets including the angle brackets).
	maxEmail = 254
)

// Validate checks the candidate's own fields. Returns EParameterMissing or
// EParameterInvalid with "name" or "email" as Param.
func (c *Candidate) Validate() error {
	if c.Name == "" {
		return ParamErrorf(EParameterMissing, "name", "A candidate needs a name: give \"name\", 1 to %d characters.", maxCandidateName)
	}
	if strings.TrimSpace(c.Name) == "" {
		return ParamErrorf(EParameterInvalid, "name", "The name is only spaces; give the candidate's name.")
	}
	if n := len([]rune(c.Name)); n > maxCandidateName {
		return ParamErrorf(EParameterInvalid, "name", "The name is %d characters long; at most %d are allowed.", n, maxCandidateName)
	}
	if c.Email == "" {
		return ParamErrorf(EParameterMissing, "email", "A candidate needs an email address: give \"email\", such as \"ada@example.com\".")
	}
	return ValidateEmail(c.Email)
}

// ValidateEmail checks that s is one bare email address (RFC 5322
// addr-spec): no display name, no angle brackets, no surrounding spaces,
// at most 254 characters. Returns EParameterInvalid on "email" otherwise.
func ValidateEmail(s string) error {
	bad := func() error {
		return ParamErrorf(EParameterInvalid, "email",
			"%q is not an email address: give one address only, such as \"ada@example.com\", without a name or angle brackets.", s)
	}
	if len(s) > maxEmail {
		return ParamErrorf(EParameterInvalid, "email", "The email address is %d characters long; at most %d are allowed.", len(s), maxEmail)
	}
	addr, err := mail.ParseAddress(s)
	// ParseAddress also takes "Ada <ada@example.com>" and trims spaces;
	// only an input that is exactly the address it found is a bare one.
	if err != nil || addr.Name != "" || addr.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@'):], ".") {
		return bad()
	}
	return nil
}

// NewCandidate builds a candidate of the account and environment of the key
// that creates it, at now, and validates it.
func NewCandidate(creator *Key, name, email string, now time.Time) (*Candidate, error) {
	c := &Candidate{
		ID:          NewID(PrefixCandidate),
		AccountID:   creator.AccountID,
		Environment: creator.Environment,
		Name:        name,
		Email:       email,
		Created:     Timestamp(now),
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Scope is the part of the data a caller sees: one account, one
// environment. Every resource store method takes one and treats anything
// outside it as absent.
type Scope struct {
	AccountID   string
	Environment Environment
}

// ScopeOf is the scope of the data key k may see and change.
func ScopeOf(k *Key) Scope { return Scope{AccountID: k.AccountID, Environment: k.Environment} }

// Page selects a page of a list, newest first.
type Page struct {
	// Limit is the page size, 1 to 100; a store treats a value below 1 as
	// 10 and above 100 as 100.
	Limit int
	// StartingAfter is the id of the item the page starts after ("" for
	// the first page): the page holds the Limit items next older than it.
	// A deleted item's id is still a valid cursor.
	StartingAfter string
	// EndingBefore is the id of the item the page ends before, to page
	// back towards the newest (Stripe's ending_before): the page holds the
	// Limit items next newer than it, still newest first, and hasMore
	// reports whether newer ones remain beyond them. A deleted item's id
	// is still a valid cursor. Giving both cursors is EParameterInvalid on
	// "ending_before".
	EndingBefore string
}

// CandidateStore keeps candidates. Implementations are safe for concurrent
// use.
type CandidateStore interface {
	// CreateCandidate stores c, whose ID must be new.
	CreateCandidate(ctx context.Context, c *Candidate) error

	// Candidate returns the candidate id in scope s. Returns ENotFound if
	// it does not exist, was deleted, or is outside s (another account or
	// environment).
	Candidate(ctx context.Context, s Scope, id string) (*Candidate, error)

	// ListCandidates returns a page of the candidates in scope s, newest
	// first, and whether more follow. Returns EParameterInvalid on
	// "starting_after" or "ending_before" if that id was never a
	// candidate in s, or on "ending_before" if both are given (see
	// Page.EndingBefore).
	ListCandidates(ctx context.Context, s Scope, p Page) (candidates []*Candidate, hasMore bool, err error)

	// DeleteCandidate deletes the candidate id in scope s and, in the same
	// transaction, every interview of it. Its data is erased; its id stays
	// valid as a list cursor. Returns ENotFound as Candidate does.
	DeleteCandidate(ctx context.Context, s Scope, id string) error
}
