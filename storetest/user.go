package storetest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runUsers(t *testing.T, run runFunc) {
	run(t, "SignUp", testUsersSignUp)
	run(t, "SignUpEmailTaken", testUsersSignUpEmailTaken)
	run(t, "CreateUserErrors", testUsersInviteErrors)
	run(t, "UseLinkOnce", testUsersUseLinkOnce)
	run(t, "UseLinkExpired", testUsersUseLinkExpired)
	run(t, "UseLinkOnlySetup", testUsersUseLinkOnlySetup)
	run(t, "UseLinkEmailTaken", testUsersUseLinkEmailTaken)
	run(t, "UseLinkConcurrent", testUsersUseLinkConcurrent)
	run(t, "SetupLinkState", testUsersSetupLinkState)
	run(t, "Sessions", testUsersSessions)
	run(t, "SessionEvents", testUsersSessionEvents)
	run(t, "SetPasswordSignsOut", testUsersSetPasswordSignsOut)
}

// newUser builds (but does not store) a user of account accountID.
func newUser(accountID, email string, role pihu.Role, hash string) *pihu.User {
	u := &pihu.User{ID: pihu.NewID(pihu.PrefixUser), AccountID: accountID, Email: email, PasswordHash: hash, Role: role, Created: epoch}
	if hash != "" {
		at := epoch
		u.PasswordChanged = &at
	}
	return u
}

// newLink builds a link for u with a random token, and returns the token's
// digest as the store keeps it.
func newLink(u *pihu.User, purpose pihu.LinkPurpose, expires time.Time) *pihu.Link {
	d := sha256.Sum256([]byte(pihu.NewID("token_")))
	return &pihu.Link{Digest: d[:], UserID: u.ID, AccountID: u.AccountID, Purpose: purpose, Created: epoch, Expires: expires}
}

func mustSignUp(tb testing.TB, s pihu.Store, email string) (*pihu.Account, *pihu.User) {
	tb.Helper()
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Acme " + email, Created: epoch}
	u := newUser(a.ID, email, pihu.RoleOwner, "$argon2id$hash")
	ev := pihu.NewUserEvent(pihu.ActionUserSignedUp, u.ID, "127.0.0.1", u, epoch)
	if err := s.CreateAccountWithOwner(tb.Context(), a, u, ev); err != nil {
		tb.Fatalf("CreateAccountWithOwner: %v", err)
	}
	return a, u
}

// person is u as UserByEmail returns it: outside any account.
func person(u *pihu.User) *pihu.User {
	p := *u
	p.AccountID, p.Role = "", ""
	return &p
}

func checkUser(tb testing.TB, got, want *pihu.User) {
	tb.Helper()
	if got.ID != want.ID || got.AccountID != want.AccountID || got.Email != want.Email || got.PasswordHash != want.PasswordHash ||
		got.Role != want.Role || !got.Created.Equal(want.Created) || (got.PasswordChanged == nil) != (want.PasswordChanged == nil) ||
		got.PasswordChanged != nil && !got.PasswordChanged.Equal(*want.PasswordChanged) {
		tb.Errorf("user: got %+v, want %+v", got, want)
	}
}

func testUsersSignUp(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	if _, err := s.Account(t.Context(), a.ID); err != nil {
		t.Fatalf("Account: %v", err)
	}
	got, err := s.UserByEmail(t.Context(), "ada@example.com")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	checkUser(t, got, person(u))
	got, err = s.User(t.Context(), a.ID, u.ID)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	checkUser(t, got, u)
	users, err := s.ListUsers(t.Context(), a.ID)
	if err != nil || len(users) != 1 {
		t.Fatalf("ListUsers: got %v, %v; want the owner", users, err)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 10})
	if len(events) != 1 || events[0].Action != pihu.ActionUserSignedUp || events[0].Target != u.ID || events[0].Environment != "" {
		t.Errorf("events: got %+v, want the sign-up", events)
	}

	b, _ := mustSignUp(t, s, "grace@example.com")
	_, err = s.User(t.Context(), b.ID, u.ID)
	checkError(t, err, pihu.ENotFound, "")
	_, err = s.UserByEmail(t.Context(), "nobody@example.com")
	checkError(t, err, pihu.ENotFound, "")
	_, err = s.UserByEmail(t.Context(), "")
	checkError(t, err, pihu.ENotFound, "")
}

// testUsersSignUpEmailTaken checks that an email is unique across accounts,
// and that a sign-up refused for it stores no account.
func testUsersSignUpEmailTaken(t *testing.T, s pihu.Store) {
	mustSignUp(t, s, "ada@example.com")
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Second", Created: epoch}
	err := s.CreateAccountWithOwner(t.Context(), a, newUser(a.ID, "ada@example.com", pihu.RoleOwner, "h"))
	checkError(t, err, pihu.EParameterInvalid, "email")
	_, err = s.Account(t.Context(), a.ID)
	checkError(t, err, pihu.ENotFound, "")
	checkCount(t, s, 1)
}

func testUsersInviteErrors(t *testing.T, s pihu.Store) {
	a, _ := mustSignUp(t, s, "ada@example.com")
	err := s.CreateUser(t.Context(), newUser(a.ID, "ada@example.com", pihu.RoleAdmin, ""), nil)
	checkError(t, err, pihu.EParameterInvalid, "email")
	err = s.CreateUser(t.Context(), newUser(pihu.NewID(pihu.PrefixAccount), "x@example.com", pihu.RoleAdmin, ""), nil)
	checkError(t, err, pihu.ENotFound, "")
	ghost := newUser(a.ID, "ghost@example.com", pihu.RoleAdmin, "")
	err = s.CreateLink(t.Context(), newLink(ghost, pihu.LinkSetup, epoch.Add(time.Hour)))
	checkError(t, err, pihu.ENotFound, "")
	users, _ := s.ListUsers(t.Context(), a.ID)
	if len(users) != 1 {
		t.Errorf("users: got %d, want only the owner", len(users))
	}
}

// testUsersUseLinkOnce checks a setup link: it sets the email and password,
// signs out the user's sessions, and works once.
func testUsersUseLinkOnce(t *testing.T, s pihu.Store) {
	a, _ := mustSignUp(t, s, "ada@example.com")
	setup := newUser(a.ID, "", pihu.RoleOwner, "")
	if err := s.CreateUser(t.Context(), setup, nil); err != nil {
		t.Fatalf("CreateUser without email: %v", err)
	}
	other := newUser(a.ID, "", pihu.RoleAdmin, "") // two users without email
	if err := s.CreateUser(t.Context(), other, nil); err != nil {
		t.Fatalf("a second user without email: %v", err)
	}
	link := newLink(setup, pihu.LinkSetup, epoch.Add(24*time.Hour))
	if err := s.CreateLink(t.Context(), link); err != nil {
		t.Fatalf("CreateLink: %v", err)
	}
	sess := &pihu.Session{Digest: bytes.Repeat([]byte{1}, 32), UserID: setup.ID, AccountID: a.ID, Created: epoch, LastSeen: epoch, Expires: epoch.Add(time.Hour)}
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	at := epoch.Add(time.Minute)
	ev := pihu.NewUserEvent(pihu.ActionUserPasswordSet, setup.ID, "127.0.0.1", setup, at)
	got, err := s.UseLink(t.Context(), link.Digest, "owner@example.com", "$argon2id$new", at, ev)
	if err != nil {
		t.Fatalf("UseLink: %v", err)
	}
	if got.Email != "owner@example.com" || got.PasswordHash != "$argon2id$new" || got.PasswordChanged == nil || !got.PasswordChanged.Equal(at) {
		t.Errorf("UseLink: got %+v", got)
	}
	if byEmail, err := s.UserByEmail(t.Context(), "owner@example.com"); err != nil || byEmail.ID != setup.ID {
		t.Errorf("UserByEmail after setup: got %v, %v", byEmail, err)
	}
	_, err = s.SessionByDigest(t.Context(), sess.Digest)
	checkError(t, err, pihu.ENotFound, "")

	_, err = s.UseLink(t.Context(), link.Digest, "again@example.com", "$argon2id$again", at)
	checkError(t, err, pihu.ENotFound, "")
	stored, _ := s.User(t.Context(), a.ID, setup.ID)
	if stored.PasswordHash != "$argon2id$new" || stored.Email != "owner@example.com" {
		t.Errorf("a used link changed the user: %+v", stored)
	}
	_, err = s.UseLink(t.Context(), bytes.Repeat([]byte{9}, 32), "", "h", at)
	checkError(t, err, pihu.ENotFound, "")
}

// testUsersSetupLinkState: SetupLink reads a setup link whether or not it
// was used, and PendingSetup finds the unused one until it is used.
func testUsersSetupLinkState(t *testing.T, s pihu.Store) {
	_, err := s.PendingSetup(t.Context())
	checkError(t, err, pihu.ENotFound, "")
	a, _ := mustSignUp(t, s, "ada@example.com")
	setup := newUser(a.ID, "", pihu.RoleOwner, "")
	link := newLink(setup, pihu.LinkSetup, epoch.Add(24*time.Hour))
	if err := s.CreateUser(t.Context(), setup, link); err != nil {
		t.Fatal(err)
	}
	invite := newUser(a.ID, "", pihu.RoleViewer, "")
	old := newLink(invite, pihu.LinkInvite, epoch.Add(time.Hour))
	if err := s.CreateUser(t.Context(), invite, old); err != nil {
		t.Fatal(err)
	}
	got, err := s.SetupLink(t.Context(), link.Digest)
	if err != nil || got.UserID != setup.ID || got.AccountID != a.ID || got.Used != nil || !got.Expires.Equal(link.Expires) {
		t.Errorf("SetupLink before use: got %+v, %v", got, err)
	}
	pending, err := s.PendingSetup(t.Context())
	if err != nil || !bytes.Equal(pending.Digest, link.Digest) {
		t.Errorf("PendingSetup: got %+v, %v, want the setup link", pending, err)
	}
	_, err = s.SetupLink(t.Context(), old.Digest) // no setup link
	checkError(t, err, pihu.ENotFound, "")
	_, err = s.SetupLink(t.Context(), bytes.Repeat([]byte{9}, 32))
	checkError(t, err, pihu.ENotFound, "")

	at := epoch.Add(time.Minute)
	if _, err := s.UseLink(t.Context(), link.Digest, "owner@example.com", "$argon2id$new", at); err != nil {
		t.Fatal(err)
	}
	got, err = s.SetupLink(t.Context(), link.Digest)
	if err != nil || got.Used == nil || !got.Used.Equal(at) {
		t.Errorf("SetupLink after use: got %+v, %v, want used at %v", got, err, at)
	}
	_, err = s.PendingSetup(t.Context())
	checkError(t, err, pihu.ENotFound, "")
}

func testUsersUseLinkExpired(t *testing.T, s pihu.Store) {
	a, _ := mustSignUp(t, s, "ada@example.com")
	setup := newUser(a.ID, "", pihu.RoleAdmin, "")
	link := newLink(setup, pihu.LinkSetup, epoch.Add(24*time.Hour))
	if err := s.CreateUser(t.Context(), setup, link); err != nil {
		t.Fatal(err)
	}
	_, err := s.UseLink(t.Context(), link.Digest, "grace@example.com", "h", epoch.Add(24*time.Hour))
	checkError(t, err, pihu.ENotFound, "")
	if got, _ := s.User(t.Context(), a.ID, setup.ID); got.PasswordHash != "" {
		t.Errorf("an expired link set the password: %+v", got)
	}
}

// testUsersUseLinkOnlySetup: UseLink takes setup links only; an invite's
// link of before invites had their own table (LinkInvite) sets nothing.
func testUsersUseLinkOnlySetup(t *testing.T, s pihu.Store) {
	a, _ := mustSignUp(t, s, "ada@example.com")
	u := newUser(a.ID, "", pihu.RoleViewer, "")
	link := newLink(u, pihu.LinkInvite, epoch.Add(time.Hour))
	if err := s.CreateUser(t.Context(), u, link); err != nil {
		t.Fatal(err)
	}
	_, err := s.UseLink(t.Context(), link.Digest, "eve@example.com", "$argon2id$eve", epoch)
	checkError(t, err, pihu.ENotFound, "")
	if got, _ := s.User(t.Context(), a.ID, u.ID); got.PasswordHash != "" || got.Email != "" {
		t.Errorf("a link that is no setup link set the user: %+v", got)
	}
}

// testUsersUseLinkEmailTaken checks that a setup link refused for its email
// is not used up.
func testUsersUseLinkEmailTaken(t *testing.T, s pihu.Store) {
	a, _ := mustSignUp(t, s, "ada@example.com")
	setup := newUser(a.ID, "", pihu.RoleOwner, "")
	link := newLink(setup, pihu.LinkSetup, epoch.Add(time.Hour))
	if err := s.CreateUser(t.Context(), setup, link); err != nil {
		t.Fatal(err)
	}
	_, err := s.UseLink(t.Context(), link.Digest, "ada@example.com", "h", epoch)
	checkError(t, err, pihu.EParameterInvalid, "email")
	if _, err := s.UseLink(t.Context(), link.Digest, "own@example.com", "h", epoch); err != nil {
		t.Errorf("UseLink after a refused email: %v", err)
	}
}

func testUsersUseLinkConcurrent(t *testing.T, s pihu.Store) {
	a, _ := mustSignUp(t, s, "ada@example.com")
	member := newUser(a.ID, "", pihu.RoleViewer, "")
	link := newLink(member, pihu.LinkSetup, epoch.Add(time.Hour))
	if err := s.CreateUser(t.Context(), member, link); err != nil {
		t.Fatal(err)
	}
	const workers = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		won, lost int
	)
	for i := range workers {
		wg.Go(func() {
			_, err := s.UseLink(t.Context(), link.Digest, fmt.Sprintf("u%d@example.com", i), fmt.Sprintf("hash %d", i), epoch)
			mu.Lock()
			defer mu.Unlock()
			switch pihu.ErrorCode(err) {
			case "":
				won++
			case pihu.ENotFound:
				lost++
			default:
				t.Errorf("UseLink: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 || lost != workers-1 {
		t.Errorf("uses: got %d won and %d refused, want 1 and %d", won, lost, workers-1)
	}
}

func testUsersSessions(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	sess := &pihu.Session{Digest: bytes.Repeat([]byte{7}, 32), UserID: u.ID, AccountID: a.ID,
		Created: epoch, LastSeen: epoch, Expires: epoch.Add(7 * 24 * time.Hour)}
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	got, err := s.SessionByDigest(t.Context(), sess.Digest)
	if err != nil {
		t.Fatalf("SessionByDigest: %v", err)
	}
	if got.UserID != u.ID || got.AccountID != a.ID || !got.Created.Equal(epoch) || !got.LastSeen.Equal(epoch) || !got.Expires.Equal(sess.Expires) {
		t.Errorf("session: got %+v, want %+v", got, sess)
	}
	later := epoch.Add(time.Hour)
	if err := s.TouchSession(t.Context(), sess.Digest, later); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	if err := s.TouchSession(t.Context(), sess.Digest, epoch); err != nil { // older: ignored
		t.Fatalf("TouchSession: %v", err)
	}
	got, _ = s.SessionByDigest(t.Context(), sess.Digest)
	if !got.LastSeen.Equal(later) {
		t.Errorf("LastSeen: got %v, want %v", got.LastSeen, later)
	}
	if err := s.DeleteSession(t.Context(), sess.Digest); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	_, err = s.SessionByDigest(t.Context(), sess.Digest)
	checkError(t, err, pihu.ENotFound, "")
	if err := s.DeleteSession(t.Context(), sess.Digest); err != nil {
		t.Errorf("DeleteSession of an unknown session: %v", err)
	}
}

// A sign-in and a sign-out are in the audit log exactly when the session
// starts and ends.
func testUsersSessionEvents(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	sess := &pihu.Session{Digest: bytes.Repeat([]byte{8}, 32), UserID: u.ID, AccountID: a.ID,
		Created: epoch, LastSeen: epoch, Expires: epoch.Add(time.Hour)}
	login := pihu.NewUserEvent(pihu.ActionUserLogin, u.ID, "127.0.0.1", u, epoch)
	if err := s.CreateSession(t.Context(), sess, login); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	// The same session again is refused, and its event is not recorded.
	again := pihu.NewUserEvent(pihu.ActionUserLogin, u.ID, "127.0.0.1", u, epoch)
	if err := s.CreateSession(t.Context(), sess, again); err == nil {
		t.Fatalf("CreateSession of a session already stored: no error")
	}
	logout := pihu.NewUserEvent(pihu.ActionUserLogout, u.ID, "127.0.0.1", u, epoch)
	if err := s.DeleteSession(t.Context(), sess.Digest, logout); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: u.ID, Limit: 10})
	if len(events) != 3 || events[0].ID != logout.ID || events[1].ID != login.ID || events[2].Action != pihu.ActionUserSignedUp {
		t.Fatalf("events: got %v, want the sign-out, the sign-in and the sign-up", events)
	}
	checkEvent(t, events[0], logout)
	checkEvent(t, events[1], login)
}

func testUsersSetPasswordSignsOut(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	b, other := mustSignUp(t, s, "grace@example.com")
	mine := &pihu.Session{Digest: bytes.Repeat([]byte{1}, 32), UserID: u.ID, AccountID: a.ID, Created: epoch, LastSeen: epoch, Expires: epoch.Add(time.Hour)}
	theirs := &pihu.Session{Digest: bytes.Repeat([]byte{2}, 32), UserID: other.ID, AccountID: b.ID, Created: epoch, LastSeen: epoch, Expires: epoch.Add(time.Hour)}
	for _, sess := range []*pihu.Session{mine, theirs} {
		if err := s.CreateSession(t.Context(), sess); err != nil {
			t.Fatal(err)
		}
	}
	at := epoch.Add(time.Minute)
	if err := s.SetPassword(t.Context(), a.ID, u.ID, "$argon2id$changed", at); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	_, err := s.SessionByDigest(t.Context(), mine.Digest)
	checkError(t, err, pihu.ENotFound, "")
	if _, err := s.SessionByDigest(t.Context(), theirs.Digest); err != nil {
		t.Errorf("another user's session: %v", err)
	}
	got, _ := s.User(t.Context(), a.ID, u.ID)
	if got.PasswordHash != "$argon2id$changed" || got.PasswordChanged == nil || !got.PasswordChanged.Equal(at) {
		t.Errorf("user: got %+v", got)
	}
	err = s.SetPassword(t.Context(), b.ID, u.ID, "h", at)
	checkError(t, err, pihu.ENotFound, "")
}
