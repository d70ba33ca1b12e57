package pihu

import (
	"context"
	"strings"
	"time"
)

// Request log defaults: how many entries the store keeps per account, and
// for how long (see RequestLogStore.PruneRequestLog).
const (
	DefaultRequestLogMax       = 10000
	DefaultRequestLogRetention = 7 * 24 * time.Hour
)

// PrefixRequestLog is the prefix of a request log entry's id.
const PrefixRequestLog = "rql_"

// Doors a logged request came through.
const (
	DoorAPI     = "api"     // a request to the API made with the key
	DoorVerify  = "verify"  // the key verified by another service (POST /v1/auth/verify)
	DoorForward = "forward" // a request a gateway asked about (forward auth)
	DoorEnvoy   = "envoy"   // a request Envoy asked about (ext_authz Check)
)

// RequestLogEntry is one request made with a key, as the request log keeps
// it: when, through which door, what (method and path, never the query
// string), the answer's status, the client's address, and the error code
// of a refusal. It never holds a secret. An entry with Omitted above zero
// is no request: it says that many requests of its key were left out of
// the log (over the account's recording budget) up to its Time.
type RequestLogEntry struct {
	// ID names the entry ("rql_…", a cursor of the list), given by
	// AppendRequestLog; RequestID is the request's ("req_…"), "" for an
	// omission. The verifier's request and the key it verified share one.
	ID, RequestID string
	AccountID     string
	KeyID         string // the key's id; an access token's parent key's
	TokenID       string // the access token's id, if the request was made with one
	Time          time.Time
	Door          string // one of the Door… constants
	Method        string
	Path          string // the path only: the query string is dropped
	Status        int    // the status answered (for verify, the API's for the same outcome)
	IP            string // the client's address, "" if unknown
	// Code is the error code of an error answer ("" for a success):
	// for a refusal (see Refused), its reason.
	Code    string
	Omitted int64
}

// refusalCodes are the codes a recognised key's request is refused with.
var refusalCodes = []string{ERateLimited, EIPNotAllowed, EInsufficientPermissions, EUsageExceeded,
	EDisabledAPIKey, ERevokedAPIKey, EExpiredAPIKey}

// RefusalCodes are the codes IsRefusalCode accepts.
func RefusalCodes() []string { return append([]string(nil), refusalCodes...) }

// IsRefusalCode reports whether code is a refusal of a recognised key:
// rate limited, an address outside allowed_ips, a missing permission,
// credits used up, a disabled, revoked or expired key.
func IsRefusalCode(code string) bool {
	for _, c := range refusalCodes {
		if c == code {
			return true
		}
	}
	return false
}

// Refused reports whether e is a refused request (see IsRefusalCode).
func (e *RequestLogEntry) Refused() bool { return IsRefusalCode(e.Code) }

// PathOnly is the path of uri (a path and query string, or a whole URL's
// request target): what precedes '?' or '#'.
func PathOnly(uri string) string {
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		return uri[:i]
	}
	return uri
}

// RequestLogFilter selects a page of an account's request log, newest
// first.
type RequestLogFilter struct {
	AccountID string
	// Environment, if set, limits the page to the entries of that
	// environment's keys.
	Environment Environment
	// KeyID, if set, limits the page to that key's entries.
	KeyID string
	// Status, if not zero, limits the page to that status; StatusClass
	// (1 to 5), if not zero, to that class (4: 400 to 499).
	Status, StatusClass int
	// Refused limits the page to refused requests (and omissions, which
	// may hide some); Code, if set, to answers of that error code.
	Refused bool
	Code    string
	// Since and Until, if not zero, limit the page to entries at or after
	// Since and before Until.
	Since, Until time.Time
	// Limit, StartingAfter and EndingBefore page as in Page.
	Limit         int
	StartingAfter string
	EndingBefore  string
}

// Validate checks f: a status of 100 to 599, a class of 1 to 5, a time
// range whose end comes after its start. Returns EParameterInvalid.
func (f *RequestLogFilter) Validate() error {
	if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		return ParamErrorf(EParameterInvalid, "status", "\"status\" must be an HTTP status from 100 to 599, or a class such as 4xx.")
	}
	if f.StatusClass != 0 && (f.StatusClass < 1 || f.StatusClass > 5) {
		return ParamErrorf(EParameterInvalid, "status", "\"status\" must be an HTTP status from 100 to 599, or a class such as 4xx.")
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return ParamErrorf(EParameterInvalid, "until", "The end of the range must come after its start.")
	}
	return nil
}

// ParseStatusFilter reads a status filter: a status ("429") or a class
// ("4xx"). Returns EParameterInvalid on "status" otherwise.
func ParseStatusFilter(s string) (status, class int, err error) {
	bad := ParamErrorf(EParameterInvalid, "status", "\"status\" must be an HTTP status from 100 to 599, such as 429, or a class such as 4xx.")
	if len(s) != 3 || s[0] < '1' || s[0] > '5' {
		return 0, 0, bad
	}
	if s[1:] == "xx" || s[1:] == "XX" {
		return 0, int(s[0] - '0'), nil
	}
	if s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' {
		return 0, 0, bad
	}
	return int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0'), 0, nil
}

// RequestLogStore keeps the request log, written in batches off the request
// path. Implementations are safe for concurrent use.
type RequestLogStore interface {
	// AppendRequestLog stores entries in one transaction, each with a new
	// ID (PrefixRequestLog) unless it has one. An entry whose
	// key does not exist, or is not of the entry's account, is skipped.
	// The server's bookkeeping: no actor is checked.
	AppendRequestLog(ctx context.Context, entries []RequestLogEntry) error

	// ListRequestLog returns a page of entries, newest first (in the
	// order they were stored), and whether more follow, with the cursor
	// rules of ListAuditEvents. Returns ENotFound if f.KeyID is set and
	// that key does not exist or is of another account.
	ListRequestLog(ctx context.Context, f RequestLogFilter) (entries []*RequestLogEntry, hasMore bool, err error)

	// PruneRequestLog deletes the entries older than before, and those of
	// an account beyond its max newest; returns how many it deleted.
	PruneRequestLog(ctx context.Context, before time.Time, max int) (int, error)
}
