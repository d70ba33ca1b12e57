package storetest

import (
	"bytes"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// The rules of managing members: changing roles, regenerating invites and
// password resets, each checked in the store's transaction against the
// roles it reads there.
func runMembers(t *testing.T, run runFunc) {
	run(t, "ChangeRole", testMembersChangeRole)
	run(t, "ChangeRoleLastOwner", testMembersChangeRoleLastOwner)
	run(t, "InviteLinkState", testMembersInviteLinkState)
	run(t, "RegenerateInvite", testMembersRegenerateInvite)
	run(t, "PasswordReset", testMembersPasswordReset)
	run(t, "PasswordResetRules", testMembersPasswordResetRules)
	run(t, "PasswordResetIssuerDemoted", testMembersPasswordResetIssuerDemoted)
	run(t, "PasswordResetConcurrent", testMembersPasswordResetConcurrent)
}

// mustJoin makes a new person with email a member of account a with role,
// through an invite by inviter, and returns them as a member.
func mustJoin(tb testing.TB, s pihu.Store, a *pihu.Account, inviter *pihu.User, email string, role pihu.Role) *pihu.User {
	tb.Helper()
	invRole := role
	if role == pihu.RoleOwner {
		invRole = pihu.RoleAdmin
	}
	inv := mustInvite(tb, s, a.ID, inviter.ID, email, invRole)
	u, err := s.AcceptInvite(tb.Context(), inv.Digest, newUser("", email, "", "$argon2id$"+email), epoch)
	if err != nil {
		tb.Fatalf("AcceptInvite(%s): %v", email, err)
	}
	if role == pihu.RoleOwner {
		if u, err = s.ChangeRole(tb.Context(), a.ID, inviter.ID, u.ID, role, nil); err != nil {
			tb.Fatalf("ChangeRole(%s): %v", email, err)
		}
	}
	return u
}

func checkMemberRole(tb testing.TB, s pihu.Store, accountID, userID string, want pihu.Role) {
	tb.Helper()
	u, err := s.User(tb.Context(), accountID, userID)
	if err != nil || u.Role != want {
		tb.Errorf("role of %s: got %+v, %v; want %s", userID, u, err, want)
	}
}

func roleEvent(actor string) func(*pihu.User) *pihu.AuditEvent {
	return func(before *pihu.User) *pihu.AuditEvent {
		ev := pihu.NewUserEvent(pihu.ActionUserRoleChanged, actor, "127.0.0.1", before, epoch)
		ev.Changes = []string{"role"}
		return ev
	}
}

// testMembersChangeRole: owners change any role; admins grant no more
// than admin and change no owner; viewers change none; another account's
// member is not found; each change is one event.
func testMembersChangeRole(t *testing.T, s pihu.Store) {
	a, ada := mustSignUp(t, s, "ada@example.com")
	b, bob := mustSignUp(t, s, "bob@example.com")
	grace := mustJoin(t, s, a, ada, "grace@example.com", pihu.RoleViewer)
	alan := mustJoin(t, s, a, ada, "alan@example.com", pihu.RoleAdmin)
	vic := mustJoin(t, s, a, ada, "vic@example.com", pihu.RoleViewer)

	u, err := s.ChangeRole(t.Context(), a.ID, ada.ID, grace.ID, pihu.RoleAdmin, roleEvent(ada.ID))
	if err != nil || u.Role != pihu.RoleAdmin || u.ID != grace.ID {
		t.Fatalf("owner makes a viewer admin: got %+v, %v", u, err)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: grace.ID, Limit: 10})
	if len(events) == 0 || events[0].Action != pihu.ActionUserRoleChanged || events[0].Actor != ada.ID || events[0].AccountID != a.ID {
		t.Errorf("events: got %+v, want the role change first", events)
	}
	// The same role again changes nothing and records nothing.
	if _, err := s.ChangeRole(t.Context(), a.ID, ada.ID, grace.ID, pihu.RoleAdmin, roleEvent(ada.ID)); err != nil {
		t.Fatal(err)
	}
	if again, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: grace.ID, Limit: 10}); len(again) != len(events) {
		t.Errorf("events after a change to the same role: got %d, want %d", len(again), len(events))
	}
	// An admin makes a viewer admin and an admin viewer.
	if _, err := s.ChangeRole(t.Context(), a.ID, alan.ID, vic.ID, pihu.RoleAdmin, nil); err != nil {
		t.Errorf("admin makes a viewer admin: %v", err)
	}
	if _, err := s.ChangeRole(t.Context(), a.ID, alan.ID, vic.ID, pihu.RoleViewer, nil); err != nil {
		t.Errorf("admin makes an admin viewer: %v", err)
	}
	for _, tt := range []struct {
		name                   string
		account, actor, target string
		role                   pihu.Role
		code, param            string
	}{
		{"AdminGrantsOwner", a.ID, alan.ID, vic.ID, pihu.RoleOwner, pihu.EInsufficientPermissions, ""},
		{"AdminDemotesOwner", a.ID, alan.ID, ada.ID, pihu.RoleViewer, pihu.EInsufficientPermissions, ""},
		{"ViewerChanges", a.ID, vic.ID, grace.ID, pihu.RoleViewer, pihu.EInsufficientPermissions, ""},
		{"NoSuchRole", a.ID, ada.ID, vic.ID, pihu.Role("root"), pihu.EParameterInvalid, "role"},
		{"OtherAccountsMember", a.ID, ada.ID, bob.ID, pihu.RoleViewer, pihu.ENotFound, ""},
		{"OtherAccountsActor", b.ID, ada.ID, bob.ID, pihu.RoleViewer, pihu.ENotFound, ""},
		{"NoAccount", pihu.NewID(pihu.PrefixAccount), ada.ID, vic.ID, pihu.RoleAdmin, pihu.ENotFound, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.ChangeRole(t.Context(), tt.account, tt.actor, tt.target, tt.role, roleEvent(tt.actor))
			checkError(t, err, tt.code, tt.param)
		})
	}
	checkMemberRole(t, s, a.ID, vic.ID, pihu.RoleViewer)
	checkMemberRole(t, s, a.ID, ada.ID, pihu.RoleOwner)
	checkMemberRole(t, s, b.ID, bob.ID, pihu.RoleOwner)
	// A member removed while their form was on its way changes nothing.
	if err := s.RemoveMember(t.Context(), a.ID, alan.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.ChangeRole(t.Context(), a.ID, alan.ID, vic.ID, pihu.RoleAdmin, nil)
	checkError(t, err, pihu.ENotFound, "")
	checkMemberRole(t, s, a.ID, vic.ID, pihu.RoleViewer)
}

// testMembersChangeRoleLastOwner: the last owner cannot be demoted, even
// by themselves; with a second owner, either may step down.
func testMembersChangeRoleLastOwner(t *testing.T, s pihu.Store) {
	a, ada := mustSignUp(t, s, "ada@example.com")
	_, err := s.ChangeRole(t.Context(), a.ID, ada.ID, ada.ID, pihu.RoleAdmin, nil)
	checkError(t, err, pihu.EParameterInvalid, "")
	checkMemberRole(t, s, a.ID, ada.ID, pihu.RoleOwner)
	grace := mustJoin(t, s, a, ada, "grace@example.com", pihu.RoleOwner)
	checkMemberRole(t, s, a.ID, grace.ID, pihu.RoleOwner)
	if _, err := s.ChangeRole(t.Context(), a.ID, ada.ID, ada.ID, pihu.RoleAdmin, nil); err != nil {
		t.Fatalf("an owner steps down beside another: %v", err)
	}
	_, err = s.ChangeRole(t.Context(), a.ID, grace.ID, grace.ID, pihu.RoleViewer, nil)
	checkError(t, err, pihu.EParameterInvalid, "")
	checkMemberRole(t, s, a.ID, grace.ID, pihu.RoleOwner)
}

// testMembersInviteLinkState: InviteLink reads an invite pending or not,
// so that its page says what became of it.
func testMembersInviteLinkState(t *testing.T, s pihu.Store) {
	a, ada := mustSignUp(t, s, "ada@example.com")
	pending := mustInvite(t, s, a.ID, ada.ID, "grace@example.com", pihu.RoleAdmin)
	canceled := mustInvite(t, s, a.ID, ada.ID, "carol@example.com", pihu.RoleViewer)
	used := mustInvite(t, s, a.ID, ada.ID, "alan@example.com", pihu.RoleViewer)
	at := epoch.Add(time.Minute)
	if err := s.CancelInvite(t.Context(), a.ID, canceled.ID, at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcceptInvite(t.Context(), used.Digest, newUser("", "alan@example.com", "", "h"), at); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		inv   *pihu.Invite
		at    time.Time
		state pihu.LinkState
		since *time.Time
	}{
		{pending, at, "", nil},
		{pending, pending.Expires, pihu.LinkExpired, &pending.Expires},
		{canceled, at, pihu.LinkCanceled, &at},
		{used, at, pihu.LinkUsed, &at},
	} {
		got, err := s.InviteLink(t.Context(), tt.inv.Digest)
		if err != nil {
			t.Fatalf("InviteLink(%s): %v", tt.inv.Email, err)
		}
		state, since := got.State(tt.at)
		if got.ID != tt.inv.ID || got.Email != tt.inv.Email || got.Role != tt.inv.Role || got.AccountID != a.ID ||
			state != tt.state || (since == nil) != (tt.since == nil) || since != nil && !since.Equal(*tt.since) {
			t.Errorf("InviteLink(%s) at %v: got %+v, state %q since %v; want state %q since %v", tt.inv.Email, tt.at, got, state, since, tt.state, tt.since)
		}
	}
	d := sha256.Sum256([]byte("never issued"))
	_, err := s.InviteLink(t.Context(), d[:])
	checkError(t, err, pihu.ENotFound, "")
}

// testMembersRegenerateInvite: a regenerated invite has a new link for the
// same email and role; the old link stops working. Only an owner of the
// account regenerates, and only a pending invite.
func testMembersRegenerateInvite(t *testing.T, s pihu.Store) {
	a, ada := mustSignUp(t, s, "ada@example.com")
	b, bob := mustSignUp(t, s, "bob@example.com")
	alan := mustJoin(t, s, a, ada, "alan@example.com", pihu.RoleAdmin)
	old := mustInvite(t, s, a.ID, ada.ID, "grace@example.com", pihu.RoleViewer)
	regen := func(oldID, accountID, by string) (*pihu.Invite, error) {
		inv := newInvite(accountID, by, "", "", epoch.Add(48*time.Hour))
		inv.Created = epoch.Add(time.Hour)
		ev := pihu.NewInviteEvent(pihu.ActionInviteRegenerated, by, "127.0.0.1", inv, inv.Created)
		return inv, s.RegenerateInvite(t.Context(), oldID, inv, ev)
	}
	_, err := regen(old.ID, a.ID, alan.ID)
	checkError(t, err, pihu.EInsufficientPermissions, "")
	_, err = regen(old.ID, b.ID, bob.ID)
	checkError(t, err, pihu.ENotFound, "")
	checkInvites(t, s, a.ID, epoch, old)
	inv, err := regen(old.ID, a.ID, ada.ID)
	if err != nil {
		t.Fatalf("RegenerateInvite: %v", err)
	}
	if inv.Email != "grace@example.com" || inv.Role != pihu.RoleViewer || inv.ID == old.ID {
		t.Errorf("new invite: got %+v, want grace, viewer, a new id", inv)
	}
	checkInvites(t, s, a.ID, inv.Created, inv)
	if got, _ := s.InviteLink(t.Context(), old.Digest); got == nil || got.Canceled == nil {
		t.Errorf("old invite: got %+v, want it canceled", got)
	}
	_, err = regen(old.ID, a.ID, ada.ID)
	checkError(t, err, pihu.ENotFound, "")
	grace := newUser("", "grace@example.com", "", "h")
	_, err = s.AcceptInvite(t.Context(), old.Digest, grace, inv.Created)
	checkError(t, err, pihu.ENotFound, "")
	if u, err := s.AcceptInvite(t.Context(), inv.Digest, grace, inv.Created); err != nil || u.Role != pihu.RoleViewer {
		t.Errorf("AcceptInvite of the new link: got %+v, %v", u, err)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: inv.ID, Limit: 10})
	if len(events) != 1 || events[0].Action != pihu.ActionInviteRegenerated {
		t.Errorf("events: got %v, want the regeneration", events)
	}
}

// newReset builds (but does not store) a password reset of member userID
// by by, with a random token's digest.
func newReset(accountID, by, userID string, at time.Time) *pihu.PasswordReset {
	d := sha256.Sum256([]byte(pihu.NewID("token_")))
	return &pihu.PasswordReset{ID: pihu.NewID(pihu.PrefixPasswordReset), AccountID: accountID, UserID: userID, Digest: d[:],
		CreatedBy: by, Created: at, Expires: at.Add(24 * time.Hour)}
}

// testMembersPasswordReset: a reset link sets its member's password and
// ends every session of theirs, once; a newer link replaces an older;
// an expired one works no more.
func testMembersPasswordReset(t *testing.T, s pihu.Store) {
	a, ada := mustSignUp(t, s, "ada@example.com")
	grace := mustJoin(t, s, a, ada, "grace@example.com", pihu.RoleViewer)
	sess := &pihu.Session{Digest: bytes.Repeat([]byte{4}, 32), UserID: grace.ID, AccountID: a.ID, Created: epoch, LastSeen: epoch, Expires: epoch.Add(time.Hour)}
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	first := newReset(a.ID, ada.ID, grace.ID, epoch)
	if err := s.CreatePasswordReset(t.Context(), first, pihu.NewPasswordResetEvent(pihu.ActionUserPasswordResetIssued, ada.ID, "127.0.0.1", first, epoch)); err != nil {
		t.Fatalf("CreatePasswordReset: %v", err)
	}
	if first.Email != "grace@example.com" {
		t.Errorf("reset's email: got %q, want grace's", first.Email)
	}
	at := epoch.Add(time.Minute)
	second := newReset(a.ID, ada.ID, grace.ID, at)
	if err := s.CreatePasswordReset(t.Context(), second); err != nil {
		t.Fatal(err)
	}
	got, err := s.PasswordResetLink(t.Context(), first.Digest)
	if state, _ := got.State(at); err != nil || state != pihu.LinkCanceled {
		t.Errorf("first link after a second: got %+v, %v; want it canceled", got, err)
	}
	got, err = s.PasswordResetLink(t.Context(), second.Digest)
	if state, _ := got.State(at); err != nil || state != "" || got.UserID != grace.ID || got.AccountID != a.ID || got.CreatedBy != ada.ID || got.Email != "grace@example.com" {
		t.Errorf("second link: got %+v, %v; want it pending", got, err)
	}
	_, err = s.UsePasswordReset(t.Context(), first.Digest, "$argon2id$first", at)
	checkError(t, err, pihu.ENotFound, "")
	_, err = s.UsePasswordReset(t.Context(), second.Digest, "$argon2id$late", second.Expires)
	checkError(t, err, pihu.ENotFound, "")
	ev := pihu.NewUserEvent(pihu.ActionUserPasswordReset, grace.ID, "127.0.0.1", grace, at)
	ev.AccountID = ""
	u, err := s.UsePasswordReset(t.Context(), second.Digest, "$argon2id$new", at, ev)
	if err != nil || u.ID != grace.ID || u.PasswordHash != "$argon2id$new" || u.AccountID != a.ID || u.PasswordChanged == nil || !u.PasswordChanged.Equal(at) {
		t.Fatalf("UsePasswordReset: got %+v, %v", u, err)
	}
	if byEmail, _ := s.UserByEmail(t.Context(), "grace@example.com"); byEmail.PasswordHash != "$argon2id$new" {
		t.Errorf("password hash: got %q, want the new one", byEmail.PasswordHash)
	}
	_, err = s.SessionByDigest(t.Context(), sess.Digest)
	checkError(t, err, pihu.ENotFound, "")
	_, err = s.UsePasswordReset(t.Context(), second.Digest, "$argon2id$again", at)
	checkError(t, err, pihu.ENotFound, "")
	if got, _ := s.PasswordResetLink(t.Context(), second.Digest); got.Used == nil || !got.Used.Equal(at) {
		t.Errorf("used link: got %+v, want used at %v", got, at)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: grace.ID, Limit: 10})
	if len(events) < 2 || events[0].Action != pihu.ActionUserPasswordReset || events[1].Action != pihu.ActionUserPasswordResetIssued {
		t.Errorf("events: got %v, want the reset after its link", events)
	}
	d := sha256.Sum256([]byte("never issued"))
	_, err = s.PasswordResetLink(t.Context(), d[:])
	checkError(t, err, pihu.ENotFound, "")
}

// testMembersPasswordResetRules: only owners and admins issue resets, only
// owners for owners; nobody from one account resets the password of a
// person who belongs to another too; another account's member is not
// found. Nothing is stored for a refusal.
func testMembersPasswordResetRules(t *testing.T, s pihu.Store) {
	a, ada := mustSignUp(t, s, "ada@example.com")
	b, bob := mustSignUp(t, s, "bob@example.com")
	alan := mustJoin(t, s, a, ada, "alan@example.com", pihu.RoleAdmin)
	vic := mustJoin(t, s, a, ada, "vic@example.com", pihu.RoleViewer)
	carol := mustJoin(t, s, a, ada, "carol@example.com", pihu.RoleOwner)
	inv := mustInvite(t, s, a.ID, ada.ID, "bob@example.com", pihu.RoleViewer)
	if _, err := s.AcceptInvite(t.Context(), inv.Digest, person(bob), epoch); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name                   string
		account, actor, target string
		code                   string
	}{
		{"ViewerResets", a.ID, vic.ID, alan.ID, pihu.EInsufficientPermissions},
		{"AdminResetsOwner", a.ID, alan.ID, carol.ID, pihu.EInsufficientPermissions},
		{"MemberElsewhere", a.ID, ada.ID, bob.ID, pihu.EInsufficientPermissions},
		{"OtherAccount", b.ID, ada.ID, alan.ID, pihu.ENotFound},
		{"NotAMember", a.ID, ada.ID, pihu.NewID(pihu.PrefixUser), pihu.ENotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newReset(tt.account, tt.actor, tt.target, epoch)
			checkError(t, s.CreatePasswordReset(t.Context(), p), tt.code, "")
			_, err := s.PasswordResetLink(t.Context(), p.Digest)
			checkError(t, err, pihu.ENotFound, "")
		})
	}
	for _, tt := range []struct{ name, actor, target string }{
		{"AdminResetsViewer", alan.ID, vic.ID},
		{"AdminResetsAdmin", alan.ID, alan.ID},
		{"OwnerResetsOwner", ada.ID, carol.ID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.CreatePasswordReset(t.Context(), newReset(a.ID, tt.actor, tt.target, epoch)); err != nil {
				t.Errorf("CreatePasswordReset: %v", err)
			}
		})
	}
}

// testMembersPasswordResetIssuerDemoted: a link whose issuer may no longer
// reset the member's password (demoted, or removed) resets nothing.
func testMembersPasswordResetIssuerDemoted(t *testing.T, s pihu.Store) {
	a, ada := mustSignUp(t, s, "ada@example.com")
	alan := mustJoin(t, s, a, ada, "alan@example.com", pihu.RoleAdmin)
	vic := mustJoin(t, s, a, ada, "vic@example.com", pihu.RoleViewer)
	p := newReset(a.ID, alan.ID, vic.ID, epoch)
	if err := s.CreatePasswordReset(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangeRole(t.Context(), a.ID, ada.ID, alan.ID, pihu.RoleViewer, nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.UsePasswordReset(t.Context(), p.Digest, "$argon2id$new", epoch)
	checkError(t, err, pihu.ENotFound, "")
	if u, _ := s.UserByEmail(t.Context(), "vic@example.com"); u.PasswordHash == "$argon2id$new" {
		t.Error("the password was reset by a demoted issuer's link")
	}
	if got, _ := s.PasswordResetLink(t.Context(), p.Digest); got.Used != nil {
		t.Errorf("link: got %+v, want it unused", got)
	}
	// Nor does one whose issuer was removed.
	eve := mustJoin(t, s, a, ada, "eve@example.com", pihu.RoleAdmin)
	p = newReset(a.ID, eve.ID, vic.ID, epoch)
	if err := s.CreatePasswordReset(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveMember(t.Context(), a.ID, eve.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.UsePasswordReset(t.Context(), p.Digest, "$argon2id$new", epoch)
	checkError(t, err, pihu.ENotFound, "")
	if u, _ := s.UserByEmail(t.Context(), "vic@example.com"); u.PasswordHash == "$argon2id$new" {
		t.Error("the password was reset by a removed issuer's link")
	}
}

// testMembersPasswordResetConcurrent: of concurrent uses of one reset
// link, one sets the password; the others are refused.
func testMembersPasswordResetConcurrent(t *testing.T, s pihu.Store) {
	a, ada := mustSignUp(t, s, "ada@example.com")
	vic := mustJoin(t, s, a, ada, "vic@example.com", pihu.RoleViewer)
	p := newReset(a.ID, ada.ID, vic.ID, epoch)
	if err := s.CreatePasswordReset(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	const workers = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		won, lost int
		hash      string
	)
	for i := range workers {
		wg.Go(func() {
			h := "$argon2id$" + string(rune('a'+i))
			_, err := s.UsePasswordReset(t.Context(), p.Digest, h, epoch)
			mu.Lock()
			defer mu.Unlock()
			switch pihu.ErrorCode(err) {
			case "":
				won++
				hash = h
			case pihu.ENotFound:
				lost++
			default:
				t.Errorf("UsePasswordReset: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 || lost != workers-1 {
		t.Errorf("uses: got %d won and %d refused, want 1 and %d", won, lost, workers-1)
	}
	if u, _ := s.UserByEmail(t.Context(), "vic@example.com"); u.PasswordHash != hash {
		t.Errorf("password hash: got %q, want the winner's %q", u.PasswordHash, hash)
	}
}
