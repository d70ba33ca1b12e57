package metrics

import (
	"context"
	"time"

	"github.com/pihu-ai/pihu"
)

// Store wraps s so that every call's duration is recorded by operation
// (pihu_store_query_duration_seconds), and each that fails with an internal
// error is counted (pihu_store_errors_total). It changes nothing else: each
// call goes to s as it was. With m nil it returns s itself.
func (m *Metrics) Store(s pihu.Store) pihu.Store {
	if m == nil {
		return s
	}
	return &store{Store: s, m: m}
}

// store is a pihu.Store that times each call of the one it wraps. A method
// of pihu.Store it does not list reaches the wrapped store untimed, through
// the embedded interface.
type store struct {
	pihu.Store
	m *Metrics
}

// observe records the call op that started at start and ended with err.
func (s *store) observe(op string, start time.Time, err error) {
	s.m.storeDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil && pihu.ErrorCode(err) == pihu.EInternal {
		s.m.storeErrors.WithLabelValues(op).Inc()
	}
}

func (s *store) Account(ctx context.Context, a1 string) (r0 *pihu.Account, err error) {
	defer func(start time.Time) { s.observe("Account", start, err) }(time.Now())
	return s.Store.Account(ctx, a1)
}

func (s *store) ActiveSigningKey(ctx context.Context, a1 *pihu.SigningKey) (r0 *pihu.SigningKey, err error) {
	defer func(start time.Time) { s.observe("ActiveSigningKey", start, err) }(time.Now())
	return s.Store.ActiveSigningKey(ctx, a1)
}

func (s *store) AddUsage(ctx context.Context, a1 []pihu.UsageCount, a2 time.Time) (err error) {
	defer func(start time.Time) { s.observe("AddUsage", start, err) }(time.Now())
	return s.Store.AddUsage(ctx, a1, a2)
}

func (s *store) Candidate(ctx context.Context, a1 pihu.Scope, a2 string) (r0 *pihu.Candidate, err error) {
	defer func(start time.Time) { s.observe("Candidate", start, err) }(time.Now())
	return s.Store.Candidate(ctx, a1, a2)
}

func (s *store) CompleteIdempotency(ctx context.Context, a1 *pihu.IdempotencyRecord) (err error) {
	defer func(start time.Time) { s.observe("CompleteIdempotency", start, err) }(time.Now())
	return s.Store.CompleteIdempotency(ctx, a1)
}

func (s *store) CountAccounts(ctx context.Context) (r0 int, err error) {
	defer func(start time.Time) { s.observe("CountAccounts", start, err) }(time.Now())
	return s.Store.CountAccounts(ctx)
}

func (s *store) CreateAccount(ctx context.Context, a1 *pihu.Account, a2 *pihu.Key, a3 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("CreateAccount", start, err) }(time.Now())
	return s.Store.CreateAccount(ctx, a1, a2, a3...)
}

func (s *store) CreateAccountWithOwner(ctx context.Context, a1 *pihu.Account, a2 *pihu.User, a3 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("CreateAccountWithOwner", start, err) }(time.Now())
	return s.Store.CreateAccountWithOwner(ctx, a1, a2, a3...)
}

func (s *store) CreateCandidate(ctx context.Context, a1 *pihu.Candidate) (err error) {
	defer func(start time.Time) { s.observe("CreateCandidate", start, err) }(time.Now())
	return s.Store.CreateCandidate(ctx, a1)
}

func (s *store) CreateFirstAccount(ctx context.Context, a1 *pihu.Account, a2 *pihu.Key, a3 ...*pihu.AuditEvent) (r0 bool, err error) {
	defer func(start time.Time) { s.observe("CreateFirstAccount", start, err) }(time.Now())
	return s.Store.CreateFirstAccount(ctx, a1, a2, a3...)
}

func (s *store) CreateInterview(ctx context.Context, a1 *pihu.Interview) (err error) {
	defer func(start time.Time) { s.observe("CreateInterview", start, err) }(time.Now())
	return s.Store.CreateInterview(ctx, a1)
}

func (s *store) CreateKey(ctx context.Context, a1 *pihu.Key, a2 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("CreateKey", start, err) }(time.Now())
	return s.Store.CreateKey(ctx, a1, a2...)
}

func (s *store) CreateLink(ctx context.Context, a1 *pihu.Link) (err error) {
	defer func(start time.Time) { s.observe("CreateLink", start, err) }(time.Now())
	return s.Store.CreateLink(ctx, a1)
}

func (s *store) CreateOwnerKey(ctx context.Context, a1 *pihu.Key, a2 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("CreateOwnerKey", start, err) }(time.Now())
	return s.Store.CreateOwnerKey(ctx, a1, a2...)
}

func (s *store) CreateSession(ctx context.Context, a1 *pihu.Session, a2 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("CreateSession", start, err) }(time.Now())
	return s.Store.CreateSession(ctx, a1, a2...)
}

func (s *store) CreateUser(ctx context.Context, a1 *pihu.User, a2 *pihu.Link, a3 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("CreateUser", start, err) }(time.Now())
	return s.Store.CreateUser(ctx, a1, a2, a3...)
}

func (s *store) DeleteCandidate(ctx context.Context, a1 pihu.Scope, a2 string) (err error) {
	defer func(start time.Time) { s.observe("DeleteCandidate", start, err) }(time.Now())
	return s.Store.DeleteCandidate(ctx, a1, a2)
}

func (s *store) DeleteInterview(ctx context.Context, a1 pihu.Scope, a2 string) (err error) {
	defer func(start time.Time) { s.observe("DeleteInterview", start, err) }(time.Now())
	return s.Store.DeleteInterview(ctx, a1, a2)
}

func (s *store) DeleteSession(ctx context.Context, a1 []byte, a2 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("DeleteSession", start, err) }(time.Now())
	return s.Store.DeleteSession(ctx, a1, a2...)
}

func (s *store) IdempotencyRecord(ctx context.Context, a1 []byte, a2 time.Time) (r0 *pihu.IdempotencyRecord, err error) {
	defer func(start time.Time) { s.observe("IdempotencyRecord", start, err) }(time.Now())
	return s.Store.IdempotencyRecord(ctx, a1, a2)
}

func (s *store) Interview(ctx context.Context, a1 pihu.Scope, a2 string) (r0 *pihu.Interview, err error) {
	defer func(start time.Time) { s.observe("Interview", start, err) }(time.Now())
	return s.Store.Interview(ctx, a1, a2)
}

func (s *store) Key(ctx context.Context, a1 string, a2 string) (r0 *pihu.Key, err error) {
	defer func(start time.Time) { s.observe("Key", start, err) }(time.Now())
	return s.Store.Key(ctx, a1, a2)
}

func (s *store) KeyByDigest(ctx context.Context, a1 []byte) (r0 *pihu.Key, err error) {
	defer func(start time.Time) { s.observe("KeyByDigest", start, err) }(time.Now())
	return s.Store.KeyByDigest(ctx, a1)
}

func (s *store) ListAccounts(ctx context.Context, a1 time.Time) (r0 []*pihu.AccountSummary, err error) {
	defer func(start time.Time) { s.observe("ListAccounts", start, err) }(time.Now())
	return s.Store.ListAccounts(ctx, a1)
}

func (s *store) ListAuditEvents(ctx context.Context, a1 pihu.AuditFilter) (r0 []*pihu.AuditEvent, r1 bool, err error) {
	defer func(start time.Time) { s.observe("ListAuditEvents", start, err) }(time.Now())
	return s.Store.ListAuditEvents(ctx, a1)
}

func (s *store) ListCandidates(ctx context.Context, a1 pihu.Scope, a2 pihu.Page) (r0 []*pihu.Candidate, r1 bool, err error) {
	defer func(start time.Time) { s.observe("ListCandidates", start, err) }(time.Now())
	return s.Store.ListCandidates(ctx, a1, a2)
}

func (s *store) ListInterviews(ctx context.Context, a1 pihu.Scope, a2 pihu.Page) (r0 []*pihu.Interview, r1 bool, err error) {
	defer func(start time.Time) { s.observe("ListInterviews", start, err) }(time.Now())
	return s.Store.ListInterviews(ctx, a1, a2)
}

func (s *store) ListKeys(ctx context.Context, a1 pihu.KeyFilter) (r0 []*pihu.Key, r1 bool, err error) {
	defer func(start time.Time) { s.observe("ListKeys", start, err) }(time.Now())
	return s.Store.ListKeys(ctx, a1)
}

func (s *store) ListUsers(ctx context.Context, a1 string) (r0 []*pihu.User, err error) {
	defer func(start time.Time) { s.observe("ListUsers", start, err) }(time.Now())
	return s.Store.ListUsers(ctx, a1)
}

func (s *store) Ping(ctx context.Context) (err error) {
	defer func(start time.Time) { s.observe("Ping", start, err) }(time.Now())
	return s.Store.Ping(ctx)
}

func (s *store) RecordToken(ctx context.Context, a1 *pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("RecordToken", start, err) }(time.Now())
	return s.Store.RecordToken(ctx, a1)
}

func (s *store) ReleaseIdempotency(ctx context.Context, a1 *pihu.IdempotencyRecord) (err error) {
	defer func(start time.Time) { s.observe("ReleaseIdempotency", start, err) }(time.Now())
	return s.Store.ReleaseIdempotency(ctx, a1)
}

func (s *store) ReserveIdempotency(ctx context.Context, a1 *pihu.IdempotencyRecord) (r0 *pihu.IdempotencyRecord, err error) {
	defer func(start time.Time) { s.observe("ReserveIdempotency", start, err) }(time.Now())
	return s.Store.ReserveIdempotency(ctx, a1)
}

func (s *store) RevokeKey(ctx context.Context, a1 string, a2 string, a3 time.Time, a4 ...*pihu.AuditEvent) (r0 *pihu.Key, err error) {
	defer func(start time.Time) { s.observe("RevokeKey", start, err) }(time.Now())
	return s.Store.RevokeKey(ctx, a1, a2, a3, a4...)
}

func (s *store) RevokeKeys(ctx context.Context, a1 pihu.Revocation) (r0 []*pihu.Key, err error) {
	defer func(start time.Time) { s.observe("RevokeKeys", start, err) }(time.Now())
	return s.Store.RevokeKeys(ctx, a1)
}

func (s *store) RotateKey(ctx context.Context, a1 *pihu.Key, a2 time.Time, a3 ...*pihu.AuditEvent) (r0 *pihu.Key, err error) {
	defer func(start time.Time) { s.observe("RotateKey", start, err) }(time.Now())
	return s.Store.RotateKey(ctx, a1, a2, a3...)
}

func (s *store) RotateSigningKey(ctx context.Context, a1 *pihu.SigningKey) (r0 *pihu.SigningKey, err error) {
	defer func(start time.Time) { s.observe("RotateSigningKey", start, err) }(time.Now())
	return s.Store.RotateSigningKey(ctx, a1)
}

func (s *store) SessionByDigest(ctx context.Context, a1 []byte) (r0 *pihu.Session, err error) {
	defer func(start time.Time) { s.observe("SessionByDigest", start, err) }(time.Now())
	return s.Store.SessionByDigest(ctx, a1)
}

func (s *store) SetPassword(ctx context.Context, a1 string, a2 string, a3 string, a4 time.Time, a5 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("SetPassword", start, err) }(time.Now())
	return s.Store.SetPassword(ctx, a1, a2, a3, a4, a5...)
}

func (s *store) SigningKeys(ctx context.Context) (r0 []*pihu.SigningKey, err error) {
	defer func(start time.Time) { s.observe("SigningKeys", start, err) }(time.Now())
	return s.Store.SigningKeys(ctx)
}

func (s *store) TouchKeys(ctx context.Context, a1 map[string]time.Time) (err error) {
	defer func(start time.Time) { s.observe("TouchKeys", start, err) }(time.Now())
	return s.Store.TouchKeys(ctx, a1)
}

func (s *store) TouchSession(ctx context.Context, a1 []byte, a2 time.Time) (err error) {
	defer func(start time.Time) { s.observe("TouchSession", start, err) }(time.Now())
	return s.Store.TouchSession(ctx, a1, a2)
}

func (s *store) Usage(ctx context.Context, a1 string, a2 string, a3 time.Time, a4 time.Time) (r0 []pihu.UsageCount, err error) {
	defer func(start time.Time) { s.observe("Usage", start, err) }(time.Now())
	return s.Store.Usage(ctx, a1, a2, a3, a4)
}

func (s *store) SetupLink(ctx context.Context, a1 []byte) (r0 *pihu.Link, err error) {
	defer func(start time.Time) { s.observe("SetupLink", start, err) }(time.Now())
	return s.Store.SetupLink(ctx, a1)
}

func (s *store) PendingSetup(ctx context.Context) (r0 *pihu.Link, err error) {
	defer func(start time.Time) { s.observe("PendingSetup", start, err) }(time.Now())
	return s.Store.PendingSetup(ctx)
}

func (s *store) UseLink(ctx context.Context, a1 []byte, a2 string, a3 string, a4 time.Time, a5 ...*pihu.AuditEvent) (r0 *pihu.User, err error) {
	defer func(start time.Time) { s.observe("UseLink", start, err) }(time.Now())
	return s.Store.UseLink(ctx, a1, a2, a3, a4, a5...)
}

func (s *store) User(ctx context.Context, a1 string, a2 string) (r0 *pihu.User, err error) {
	defer func(start time.Time) { s.observe("User", start, err) }(time.Now())
	return s.Store.User(ctx, a1, a2)
}

func (s *store) UserByEmail(ctx context.Context, a1 string) (r0 *pihu.User, err error) {
	defer func(start time.Time) { s.observe("UserByEmail", start, err) }(time.Now())
	return s.Store.UserByEmail(ctx, a1)
}

func (s *store) RecordLeaks(ctx context.Context, a1 []pihu.LeakReport) (r0 []pihu.LeakOutcome, err error) {
	defer func(start time.Time) { s.observe("RecordLeaks", start, err) }(time.Now())
	return s.Store.RecordLeaks(ctx, a1)
}

func (s *store) SetLeakPolicy(ctx context.Context, a1 string, a2 pihu.LeakPolicy, a3 ...*pihu.AuditEvent) (r0 *pihu.Account, err error) {
	defer func(start time.Time) { s.observe("SetLeakPolicy", start, err) }(time.Now())
	return s.Store.SetLeakPolicy(ctx, a1, a2, a3...)
}

func (s *store) AppendRequestLog(ctx context.Context, a1 []pihu.RequestLogEntry) (err error) {
	defer func(start time.Time) { s.observe("AppendRequestLog", start, err) }(time.Now())
	return s.Store.AppendRequestLog(ctx, a1)
}

func (s *store) ListRequestLog(ctx context.Context, a1 pihu.RequestLogFilter) (r0 []*pihu.RequestLogEntry, r1 bool, err error) {
	defer func(start time.Time) { s.observe("ListRequestLog", start, err) }(time.Now())
	return s.Store.ListRequestLog(ctx, a1)
}

func (s *store) PruneRequestLog(ctx context.Context, a1 time.Time, a2 int) (r0 int, err error) {
	defer func(start time.Time) { s.observe("PruneRequestLog", start, err) }(time.Now())
	return s.Store.PruneRequestLog(ctx, a1, a2)
}
