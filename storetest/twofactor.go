package storetest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runTwoFactor(t *testing.T, run runFunc) {
	run(t, "EnableAndDisable", testTwoFactorEnableAndDisable)
	run(t, "StepOnce", testTwoFactorStepOnce)
	run(t, "StepConcurrent", testTwoFactorStepConcurrent)
	run(t, "RecoveryCodesOnce", testTwoFactorRecoveryCodesOnce)
	run(t, "Required", testTwoFactorRequired)
	run(t, "SSORequired", testSSORequired)
	run(t, "ListSessions", testSessionsList)
	run(t, "DeleteSessions", testSessionsDelete)
	run(t, "AuditByAction", testAuditByAction)
}

const testSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

func mustEnable(tb testing.TB, s pihu.Store, a *pihu.Account, u *pihu.User, codes []string, events ...*pihu.AuditEvent) {
	tb.Helper()
	digests := make([][]byte, len(codes))
	for i, c := range codes {
		digests[i] = pihu.RecoveryCodeDigest(u.ID, c)
	}
	if err := s.EnableTwoFactor(tb.Context(), a.ID, u.ID, testSecret, 100, digests, epoch, events...); err != nil {
		tb.Fatalf("EnableTwoFactor: %v", err)
	}
}

// Enrolling stores the secret and when, with its event; removing it
// forgets both and the recovery codes; neither works for a person outside
// the account.
func testTwoFactorEnableAndDisable(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	b, _ := mustSignUp(t, s, "grace@example.com")
	if got, _ := s.User(t.Context(), a.ID, u.ID); got.TwoFactor != nil || got.TOTPSecret != "" {
		t.Fatalf("before enrolling: got %+v", got)
	}
	ev := pihu.NewUserEvent(pihu.ActionUserTwoFactorEnabled, u.ID, "127.0.0.1", u, epoch)
	mustEnable(t, s, a, u, pihu.NewRecoveryCodes(), ev)
	got, err := s.User(t.Context(), a.ID, u.ID)
	if err != nil || got.TOTPSecret != testSecret || got.TwoFactor == nil || !got.TwoFactor.Equal(epoch) {
		t.Fatalf("after enrolling: got %+v, %v", got, err)
	}
	if p, _ := s.UserByEmail(t.Context(), "ada@example.com"); p.TwoFactor == nil || p.TOTPSecret != testSecret {
		t.Errorf("UserByEmail after enrolling: got %+v", p)
	}
	if n, err := s.RecoveryCodesLeft(t.Context(), u.ID); err != nil || n != pihu.RecoveryCodeCount {
		t.Errorf("RecoveryCodesLeft: got %d, %v, want %d", n, err, pihu.RecoveryCodeCount)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: u.ID, Limit: 1})
	if len(events) != 1 {
		t.Fatalf("events: got %v", events)
	}
	checkEvent(t, events[0], ev)

	err = s.EnableTwoFactor(t.Context(), b.ID, u.ID, testSecret, 1, nil, epoch)
	checkError(t, err, pihu.ENotFound, "")
	err = s.DisableTwoFactor(t.Context(), b.ID, u.ID)
	checkError(t, err, pihu.ENotFound, "")

	off := pihu.NewUserEvent(pihu.ActionUserTwoFactorDisabled, u.ID, "127.0.0.1", u, epoch)
	if err := s.DisableTwoFactor(t.Context(), a.ID, u.ID, off); err != nil {
		t.Fatalf("DisableTwoFactor: %v", err)
	}
	got, _ = s.User(t.Context(), a.ID, u.ID)
	if got.TwoFactor != nil || got.TOTPSecret != "" {
		t.Errorf("after removing: got %+v", got)
	}
	if n, _ := s.RecoveryCodesLeft(t.Context(), u.ID); n != 0 {
		t.Errorf("RecoveryCodesLeft after removing: got %d, want 0", n)
	}
	if ok, err := s.UseTOTPStep(t.Context(), u.ID, 1000); ok || err != nil {
		t.Errorf("UseTOTPStep without a second factor: got %v, %v, want false", ok, err)
	}
}

// A time step is accepted once, and never one older than the last: the
// step of the enrolling code included.
func testTwoFactorStepOnce(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	mustEnable(t, s, a, u, nil)
	login := pihu.NewUserEvent(pihu.ActionUserLogin, u.ID, "127.0.0.1", u, epoch)
	for _, c := range []struct {
		step int64
		want bool
	}{{100, false}, {99, false}, {101, true}, {101, false}, {100, false}, {103, true}} {
		var events []*pihu.AuditEvent
		if c.step == 101 && c.want {
			events = append(events, login)
		}
		ok, err := s.UseTOTPStep(t.Context(), u.ID, c.step, events...)
		if err != nil || ok != c.want {
			t.Errorf("UseTOTPStep(%d): got %v, %v, want %v", c.step, ok, err, c.want)
		}
	}
	refused := pihu.NewUserEvent(pihu.ActionUserLogin, u.ID, "127.0.0.1", u, epoch)
	if ok, _ := s.UseTOTPStep(t.Context(), u.ID, 103, refused); ok {
		t.Errorf("UseTOTPStep(103) again: accepted")
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: u.ID, Limit: 10})
	if len(events) != 2 || events[0].ID != login.ID {
		t.Errorf("events: got %v, want the accepted sign-in's and the sign-up's only", events)
	}
}

// Of sign-ins racing with one code, one wins.
func testTwoFactorStepConcurrent(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	mustEnable(t, s, a, u, nil)
	const workers = 8
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		won int
	)
	for range workers {
		wg.Go(func() {
			ok, err := s.UseTOTPStep(t.Context(), u.ID, 200)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("accepted: got %d, want 1", won)
	}
}

// Each recovery code works once, for its person only; enrolling again
// replaces them.
func testTwoFactorRecoveryCodesOnce(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	b, other := mustSignUp(t, s, "grace@example.com")
	codes := pihu.NewRecoveryCodes()
	mustEnable(t, s, a, u, codes)
	mustEnable(t, s, b, other, pihu.NewRecoveryCodes())
	if ok, _ := s.UseRecoveryCode(t.Context(), other.ID, pihu.RecoveryCodeDigest(other.ID, codes[0]), epoch); ok {
		t.Errorf("another person's code: accepted")
	}
	for i, c := range codes {
		ok, err := s.UseRecoveryCode(t.Context(), u.ID, pihu.RecoveryCodeDigest(u.ID, c), epoch)
		if err != nil || !ok {
			t.Fatalf("code %d: got %v, %v, want it accepted", i, ok, err)
		}
		if ok, _ := s.UseRecoveryCode(t.Context(), u.ID, pihu.RecoveryCodeDigest(u.ID, c), epoch); ok {
			t.Errorf("code %d again: accepted", i)
		}
		if n, _ := s.RecoveryCodesLeft(t.Context(), u.ID); n != len(codes)-i-1 {
			t.Errorf("left after code %d: got %d, want %d", i, n, len(codes)-i-1)
		}
	}
	fresh := pihu.NewRecoveryCodes()
	mustEnable(t, s, a, u, fresh)
	if n, _ := s.RecoveryCodesLeft(t.Context(), u.ID); n != len(fresh) {
		t.Errorf("left after enrolling again: got %d, want %d", n, len(fresh))
	}
	if n, _ := s.RecoveryCodesLeft(t.Context(), other.ID); n != pihu.RecoveryCodeCount {
		t.Errorf("another person's codes: got %d left, want %d", n, pihu.RecoveryCodeCount)
	}
}

// The account setting is read with the account, recorded with its event,
// and is no other account's.
func testTwoFactorRequired(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	b, _ := mustSignUp(t, s, "grace@example.com")
	ev := pihu.NewAccountEvent(u.ID, "127.0.0.1", a, []string{"two_factor_required"}, epoch)
	got, err := s.SetTwoFactorRequired(t.Context(), a.ID, true, ev)
	if err != nil || !got.TwoFactorRequired || got.ID != a.ID || got.Name != a.Name {
		t.Fatalf("SetTwoFactorRequired: got %+v, %v", got, err)
	}
	if got, _ := s.Account(t.Context(), a.ID); !got.TwoFactorRequired {
		t.Errorf("Account: got %+v, want two-factor required", got)
	}
	if got, _ := s.Account(t.Context(), b.ID); got.TwoFactorRequired {
		t.Errorf("another account: got %+v", got)
	}
	list, _ := s.ListAccounts(t.Context(), epoch)
	for _, acc := range list {
		if acc.TwoFactorRequired != (acc.ID == a.ID) {
			t.Errorf("ListAccounts: %s: got two-factor required %v", acc.ID, acc.TwoFactorRequired)
		}
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: a.ID, Limit: 1})
	if len(events) != 1 {
		t.Fatalf("events: got %v", events)
	}
	checkEvent(t, events[0], ev)
	if got, _ := s.SetTwoFactorRequired(t.Context(), a.ID, false); got.TwoFactorRequired {
		t.Errorf("SetTwoFactorRequired(false): got %+v", got)
	}
	_, err = s.SetTwoFactorRequired(t.Context(), "acct_none", true)
	checkError(t, err, pihu.ENotFound, "")
}

// The SSO-only setting is read with the account (and its list), recorded
// with its event, independent of the two-factor setting, and is no other
// account's.
func testSSORequired(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	b, _ := mustSignUp(t, s, "grace@example.com")
	ev := pihu.NewAccountEvent(u.ID, "127.0.0.1", a, []string{"sso_required"}, epoch)
	got, err := s.SetSSORequired(t.Context(), a.ID, true, ev)
	if err != nil || !got.SSORequired || got.TwoFactorRequired || got.ID != a.ID || got.Name != a.Name {
		t.Fatalf("SetSSORequired: got %+v, %v", got, err)
	}
	if got, _ := s.Account(t.Context(), a.ID); !got.SSORequired {
		t.Errorf("Account: got %+v, want SSO required", got)
	}
	if got, _ := s.Account(t.Context(), b.ID); got.SSORequired {
		t.Errorf("another account: got %+v", got)
	}
	list, _ := s.ListAccounts(t.Context(), epoch)
	for _, acc := range list {
		if acc.SSORequired != (acc.ID == a.ID) {
			t.Errorf("ListAccounts: %s: got SSO required %v", acc.ID, acc.SSORequired)
		}
	}
	if got, _ := s.SetTwoFactorRequired(t.Context(), a.ID, true); !got.SSORequired {
		t.Errorf("SetTwoFactorRequired: got %+v, want SSO still required", got)
	}
	if got, _ := s.SetLeakPolicy(t.Context(), a.ID, pihu.LeakFlag); got == nil || !got.SSORequired {
		t.Errorf("SetLeakPolicy: got %+v, want SSO still required", got)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: a.ID, Limit: 10})
	found := false
	for _, e := range events {
		if e.ID == ev.ID {
			checkEvent(t, e, ev)
			found = true
		}
	}
	if !found {
		t.Errorf("events: got %v, want %s", events, ev.ID)
	}
	if got, _ := s.SetSSORequired(t.Context(), a.ID, false); got.SSORequired {
		t.Errorf("SetSSORequired(false): got %+v", got)
	}
	_, err = s.SetSSORequired(t.Context(), "acct_none", true)
	checkError(t, err, pihu.ENotFound, "")
}

func newSession(u *pihu.User, accountID string, n byte, created time.Time) *pihu.Session {
	return &pihu.Session{Digest: bytes.Repeat([]byte{n}, 32), UserID: u.ID, AccountID: accountID,
		Created: created, LastSeen: created, Expires: created.Add(time.Hour),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0", IP: "192.0.2.1"}
}

// A person's sessions are listed newest first, with their browser and
// address, without the sign-ins waiting for a code, and without anyone
// else's.
func testSessionsList(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	b, other := mustSignUp(t, s, "grace@example.com")
	first, second := newSession(u, a.ID, 1, epoch), newSession(u, a.ID, 2, epoch.Add(time.Minute))
	second.IP = "2001:db8::1"
	pending := newSession(u, a.ID, 3, epoch.Add(2*time.Minute))
	pending.Pending = true
	theirs := newSession(other, b.ID, 4, epoch)
	for _, sess := range []*pihu.Session{first, second, pending, theirs} {
		if err := s.CreateSession(t.Context(), sess); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.SessionByDigest(t.Context(), pending.Digest); !got.Pending || got.ID != pending.ID {
		t.Errorf("pending session: got %+v", got)
	}
	list, err := s.ListSessions(t.Context(), u.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListSessions: got %v, %v, want 2", list, err)
	}
	if list[0].ID != second.ID || list[1].ID != first.ID {
		t.Errorf("order: got %s, %s, want %s, %s", list[0].ID, list[1].ID, second.ID, first.ID)
	}
	got := list[0]
	if !bytes.HasPrefix(got.Digest, second.Digest) || got.UserAgent != second.UserAgent || got.IP != second.IP ||
		!got.Created.Equal(second.Created) || !got.LastSeen.Equal(second.LastSeen) || got.Pending {
		t.Errorf("session: got %+v, want %+v", got, second)
	}
	long := newSession(u, a.ID, 5, epoch)
	long.UserAgent = string(bytes.Repeat([]byte("é"), pihu.MaxUserAgentLength))
	if err := s.CreateSession(t.Context(), long); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SessionByDigest(t.Context(), long.Digest); len(got.UserAgent) > pihu.MaxUserAgentLength || len(got.UserAgent) < pihu.MaxUserAgentLength-1 {
		t.Errorf("a long User-Agent: kept %d bytes, want %d at most", len(got.UserAgent), pihu.MaxUserAgentLength)
	}
}

// A person signs out one of their sessions by its id (not another
// person's), or every other one, with the events given.
func testSessionsDelete(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	b, other := mustSignUp(t, s, "grace@example.com")
	mine := []*pihu.Session{newSession(u, a.ID, 1, epoch), newSession(u, a.ID, 2, epoch), newSession(u, b.ID, 3, epoch)}
	theirs := newSession(other, b.ID, 4, epoch)
	for _, sess := range append(mine, theirs) {
		if err := s.CreateSession(t.Context(), sess); err != nil {
			t.Fatal(err)
		}
	}
	err := s.DeleteUserSession(t.Context(), u.ID, theirs.ID)
	checkError(t, err, pihu.ENotFound, "")
	if _, err := s.SessionByDigest(t.Context(), theirs.Digest); err != nil {
		t.Fatalf("another person's session after a refused delete: %v", err)
	}
	ev := pihu.NewUserEvent(pihu.ActionUserSessionsRevoked, u.ID, "127.0.0.1", u, epoch)
	if err := s.DeleteUserSession(t.Context(), u.ID, mine[1].ID, ev); err != nil {
		t.Fatalf("DeleteUserSession: %v", err)
	}
	_, err = s.SessionByDigest(t.Context(), mine[1].Digest)
	checkError(t, err, pihu.ENotFound, "")
	n, err := s.DeleteOtherSessions(t.Context(), u.ID, mine[0].Digest)
	if err != nil || n != 1 {
		t.Fatalf("DeleteOtherSessions: got %d, %v, want 1", n, err)
	}
	if _, err := s.SessionByDigest(t.Context(), mine[0].Digest); err != nil {
		t.Errorf("the session kept: %v", err)
	}
	_, err = s.SessionByDigest(t.Context(), mine[2].Digest)
	checkError(t, err, pihu.ENotFound, "")
	if _, err := s.SessionByDigest(t.Context(), theirs.Digest); err != nil {
		t.Errorf("another person's session: %v", err)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: u.ID, Limit: 1})
	if len(events) != 1 {
		t.Fatalf("events: got %v", events)
	}
	checkEvent(t, events[0], ev)
}

// The audit log filters by action, or by a prefix of actions.
func testAuditByAction(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	login := pihu.NewUserEvent(pihu.ActionUserLogin, u.ID, "127.0.0.1", u, epoch)
	failed := pihu.NewUserEvent(pihu.ActionUserLoginFailed, u.ID, "127.0.0.1", u, epoch)
	account := pihu.NewAccountEvent(u.ID, "127.0.0.1", a, []string{"two_factor_required"}, epoch)
	if err := s.RecordUserEvents(t.Context(), login, failed, account); err != nil {
		t.Fatalf("RecordUserEvents: %v", err)
	}
	got, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Actions: []string{pihu.ActionUserLoginFailed}, Limit: 10})
	checkEvents(t, got, []*pihu.AuditEvent{failed})
	got, _ = mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Actions: []string{"user.*"}, Limit: 10})
	if len(got) != 3 || got[0].ID != failed.ID || got[1].ID != login.ID || got[2].Action != pihu.ActionUserSignedUp {
		t.Errorf("user. events: got %v", got)
	}
	got, _ = mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Actions: []string{"account.*"}, Limit: 10})
	checkEvents(t, got, []*pihu.AuditEvent{account})
}
