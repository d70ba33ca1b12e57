package storetest

import (
	"bytes"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// The rules of teams: a person (one email) may belong to several accounts,
// an invite is its account's own until its link is used and tells nothing
// about, nor reserves anything in, other accounts.
func runTeams(t *testing.T, run runFunc) {
	run(t, "InviteRevealsNothing", testTeamsInviteRevealsNothing)
	run(t, "InviteReservesNothing", testTeamsInviteReservesNothing)
	run(t, "InviteErrors", testTeamsInviteErrors)
	run(t, "InviteReplaces", testTeamsInviteReplaces)
	run(t, "AcceptNewPerson", testTeamsAcceptNewPerson)
	run(t, "AcceptExistingPerson", testTeamsAcceptExistingPerson)
	run(t, "AcceptOnlyItsEmail", testTeamsAcceptOnlyItsEmail)
	run(t, "AcceptExpiredOrCanceled", testTeamsAcceptExpiredOrCanceled)
	run(t, "AcceptConcurrent", testTeamsAcceptConcurrent)
	run(t, "CancelInvite", testTeamsCancelInvite)
	run(t, "RemoveMember", testTeamsRemoveMember)
	run(t, "RemoveLastOwner", testTeamsRemoveLastOwner)
	run(t, "SwitchSession", testTeamsSwitchSession)
}

// newInvite builds (but does not store) an invite of email to account
// accountID by inviter, with a random token's digest.
func newInvite(accountID, inviter, email string, role pihu.Role, expires time.Time) *pihu.Invite {
	d := sha256.Sum256([]byte(pihu.NewID("token_")))
	return &pihu.Invite{ID: pihu.NewID(pihu.PrefixInvite), AccountID: accountID, Email: email, Role: role,
		Digest: d[:], InvitedBy: inviter, Created: epoch, Expires: expires}
}

func mustInvite(tb testing.TB, s pihu.Store, accountID, inviter, email string, role pihu.Role) *pihu.Invite {
	tb.Helper()
	inv := newInvite(accountID, inviter, email, role, epoch.Add(24*time.Hour))
	if err := s.CreateInvite(tb.Context(), inv); err != nil {
		tb.Fatalf("CreateInvite(%s): %v", email, err)
	}
	return inv
}

func checkInvites(tb testing.TB, s pihu.Store, accountID string, at time.Time, want ...*pihu.Invite) {
	tb.Helper()
	got, err := s.ListInvites(tb.Context(), accountID, at)
	if err != nil {
		tb.Fatalf("ListInvites: %v", err)
	}
	if len(got) != len(want) {
		tb.Fatalf("invites: got %d, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.AccountID != w.AccountID || g.Email != w.Email || g.Role != w.Role || !bytes.Equal(g.Digest, w.Digest) ||
			g.InvitedBy != w.InvitedBy || !g.Created.Equal(w.Created) || !g.Expires.Equal(w.Expires) {
			tb.Errorf("invite %d: got %+v, want %+v", i, g, w)
		}
	}
}

func checkMemberships(tb testing.TB, s pihu.Store, userID string, want ...pihu.Membership) {
	tb.Helper()
	got, err := s.Memberships(tb.Context(), userID)
	if err != nil {
		tb.Fatalf("Memberships: %v", err)
	}
	if len(got) != len(want) {
		tb.Fatalf("memberships: got %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i].AccountID != want[i].AccountID || got[i].AccountName != want[i].AccountName || got[i].Role != want[i].Role || !got[i].Joined.Equal(want[i].Joined) {
			tb.Errorf("membership %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// testTeamsInviteRevealsNothing: inviting the email of a person of
// another account is stored and answered exactly as inviting an address
// nobody has.
func testTeamsInviteRevealsNothing(t *testing.T, s pihu.Store) {
	mustSignUp(t, s, "carol@example.com") // a person in another account
	a, owner := mustSignUp(t, s, "ada@example.com")
	known := newInvite(a.ID, owner.ID, "carol@example.com", pihu.RoleAdmin, epoch.Add(24*time.Hour))
	unknown := newInvite(a.ID, owner.ID, "nobody@example.com", pihu.RoleAdmin, epoch.Add(24*time.Hour))
	errKnown := s.CreateInvite(t.Context(), known)
	errUnknown := s.CreateInvite(t.Context(), unknown)
	if errKnown != nil || errUnknown != nil {
		t.Fatalf("CreateInvite: %v for a person of another account, %v for an unknown address; want both stored", errKnown, errUnknown)
	}
	checkInvites(t, s, a.ID, epoch, known, unknown)
	// Only the account's own members are in its list.
	if users, _ := s.ListUsers(t.Context(), a.ID); len(users) != 1 {
		t.Errorf("members: got %d, want the owner only until an invite is used", len(users))
	}
}

// testTeamsInviteReservesNothing: a pending invite does not stop its
// address from signing up, or from being invited by another account.
func testTeamsInviteReservesNothing(t *testing.T, s pihu.Store) {
	a, ada := mustSignUp(t, s, "ada@example.com")
	b, bob := mustSignUp(t, s, "bob@example.com")
	invA := mustInvite(t, s, a.ID, ada.ID, "grace@example.com", pihu.RoleViewer)
	invB := mustInvite(t, s, b.ID, bob.ID, "grace@example.com", pihu.RoleAdmin)
	_, grace := mustSignUp(t, s, "grace@example.com")
	checkInvites(t, s, a.ID, epoch, invA)
	checkInvites(t, s, b.ID, epoch, invB)
	// Both invites still work, for the person who now exists.
	for _, inv := range []*pihu.Invite{invA, invB} {
		if _, err := s.AcceptInvite(t.Context(), inv.Digest, person(grace), epoch.Add(time.Hour)); err != nil {
			t.Fatalf("AcceptInvite of %s: %v", inv.AccountID, err)
		}
	}
	memberships, _ := s.Memberships(t.Context(), grace.ID)
	if len(memberships) != 3 {
		t.Errorf("grace's accounts: got %+v, want her own and both that invited her", memberships)
	}
}

func testTeamsInviteErrors(t *testing.T, s pihu.Store) {
	a, owner := mustSignUp(t, s, "ada@example.com")
	for _, tt := range []struct {
		name        string
		inv         *pihu.Invite
		code, param string
	}{
		{"Member", newInvite(a.ID, owner.ID, "ada@example.com", pihu.RoleAdmin, epoch.Add(time.Hour)), pihu.EParameterInvalid, "email"},
		{"Owner", newInvite(a.ID, owner.ID, "x@example.com", pihu.RoleOwner, epoch.Add(time.Hour)), pihu.EParameterInvalid, "role"},
		{"BadEmail", newInvite(a.ID, owner.ID, "x", pihu.RoleAdmin, epoch.Add(time.Hour)), pihu.EParameterInvalid, "email"},
		{"UpperCase", newInvite(a.ID, owner.ID, "X@example.com", pihu.RoleAdmin, epoch.Add(time.Hour)), pihu.EParameterInvalid, "email"},
		{"NoAccount", newInvite(pihu.NewID(pihu.PrefixAccount), owner.ID, "x@example.com", pihu.RoleAdmin, epoch.Add(time.Hour)), pihu.ENotFound, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, s.CreateInvite(t.Context(), tt.inv), tt.code, tt.param)
		})
	}
	checkInvites(t, s, a.ID, epoch)
}

// testTeamsInviteReplaces: inviting an email with a pending invite in the
// account replaces it: the old link no longer works.
func testTeamsInviteReplaces(t *testing.T, s pihu.Store) {
	a, owner := mustSignUp(t, s, "ada@example.com")
	first := mustInvite(t, s, a.ID, owner.ID, "grace@example.com", pihu.RoleViewer)
	second := mustInvite(t, s, a.ID, owner.ID, "grace@example.com", pihu.RoleAdmin)
	checkInvites(t, s, a.ID, epoch, second)
	grace := newUser("", "grace@example.com", "", "$argon2id$grace")
	_, err := s.AcceptInvite(t.Context(), first.Digest, grace, epoch)
	checkError(t, err, pihu.ENotFound, "")
	u, err := s.AcceptInvite(t.Context(), second.Digest, grace, epoch)
	if err != nil || u.Role != pihu.RoleAdmin {
		t.Fatalf("AcceptInvite of the new invite: got %+v, %v; want an admin", u, err)
	}
}

// testTeamsAcceptNewPerson: an invite used by an address nobody has stores
// the person and their membership, with the invite's role, once.
func testTeamsAcceptNewPerson(t *testing.T, s pihu.Store) {
	a, owner := mustSignUp(t, s, "ada@example.com")
	inv := mustInvite(t, s, a.ID, owner.ID, "grace@example.com", pihu.RoleViewer)
	at := epoch.Add(time.Hour)
	grace := newUser("", "grace@example.com", "", "$argon2id$grace")
	grace.Created, grace.PasswordChanged = at, &at
	joined := &pihu.User{ID: grace.ID, AccountID: a.ID, Role: pihu.RoleViewer}
	ev := pihu.NewUserEvent(pihu.ActionUserJoined, grace.ID, "127.0.0.1", joined, at)
	got, err := s.AcceptInvite(t.Context(), inv.Digest, grace, at, ev)
	if err != nil {
		t.Fatalf("AcceptInvite: %v", err)
	}
	want := *grace
	want.AccountID, want.Role = a.ID, pihu.RoleViewer
	checkUser(t, got, &want)
	byEmail, err := s.UserByEmail(t.Context(), "grace@example.com")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	checkUser(t, byEmail, person(grace))
	users, _ := s.ListUsers(t.Context(), a.ID)
	if len(users) != 2 || users[1].ID != grace.ID || users[1].Role != pihu.RoleViewer {
		t.Errorf("members: got %v, want the owner and grace, viewer", users)
	}
	checkMemberships(t, s, grace.ID, pihu.Membership{AccountID: a.ID, AccountName: a.Name, Role: pihu.RoleViewer, Joined: at})
	checkInvites(t, s, a.ID, at)
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: grace.ID, Limit: 10})
	if len(events) != 1 || events[0].Action != pihu.ActionUserJoined {
		t.Errorf("events: got %v, want the join", events)
	}
	// Once only, whoever tries.
	_, err = s.AcceptInvite(t.Context(), inv.Digest, grace, at)
	checkError(t, err, pihu.ENotFound, "")
	_, err = s.InviteByDigest(t.Context(), inv.Digest, at)
	checkError(t, err, pihu.ENotFound, "")
}

// testTeamsAcceptExistingPerson: a person of one account who uses an
// invite of another belongs to both, each with its role, and keeps their
// password; sign-in finds one person.
func testTeamsAcceptExistingPerson(t *testing.T, s pihu.Store) {
	a, ada := mustSignUp(t, s, "ada@example.com")
	b, bob := mustSignUp(t, s, "bob@example.com")
	inv := mustInvite(t, s, b.ID, bob.ID, "ada@example.com", pihu.RoleAdmin)
	got, err := s.InviteByDigest(t.Context(), inv.Digest, epoch)
	if err != nil || got.ID != inv.ID || got.AccountID != b.ID || got.Email != "ada@example.com" {
		t.Fatalf("InviteByDigest: got %+v, %v", got, err)
	}
	at := epoch.Add(time.Minute)
	u, err := s.AcceptInvite(t.Context(), inv.Digest, person(ada), at)
	if err != nil {
		t.Fatalf("AcceptInvite: %v", err)
	}
	if u.ID != ada.ID || u.AccountID != b.ID || u.Role != pihu.RoleAdmin || u.PasswordHash != ada.PasswordHash {
		t.Errorf("member: got %+v, want ada as an admin of %s with her password", u, b.ID)
	}
	checkMemberships(t, s, ada.ID,
		pihu.Membership{AccountID: a.ID, AccountName: a.Name, Role: pihu.RoleOwner, Joined: epoch},
		pihu.Membership{AccountID: b.ID, AccountName: b.Name, Role: pihu.RoleAdmin, Joined: at})
	if inA, err := s.User(t.Context(), a.ID, ada.ID); err != nil || inA.Role != pihu.RoleOwner {
		t.Errorf("ada in her own account: got %+v, %v; want its owner still", inA, err)
	}
	// Another person's new record with that email is refused.
	again := mustInvite(t, s, a.ID, ada.ID, "bob@example.com", pihu.RoleViewer)
	_, err = s.AcceptInvite(t.Context(), again.Digest, newUser("", "bob@example.com", "", "h"), at)
	checkError(t, err, pihu.EParameterInvalid, "email")
	checkInvites(t, s, a.ID, at, again)
}

// testTeamsAcceptOnlyItsEmail: an invite's link works only for the email
// it was made for.
func testTeamsAcceptOnlyItsEmail(t *testing.T, s pihu.Store) {
	a, owner := mustSignUp(t, s, "ada@example.com")
	_, eve := mustSignUp(t, s, "eve@example.com")
	inv := mustInvite(t, s, a.ID, owner.ID, "grace@example.com", pihu.RoleAdmin)
	_, err := s.AcceptInvite(t.Context(), inv.Digest, person(eve), epoch)
	checkError(t, err, pihu.ENotFound, "")
	_, err = s.AcceptInvite(t.Context(), inv.Digest, newUser("", "mallory@example.com", "", "h"), epoch)
	checkError(t, err, pihu.ENotFound, "")
	if _, err := s.User(t.Context(), a.ID, eve.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("eve in the account: %v, want not a member", err)
	}
	if _, err := s.UserByEmail(t.Context(), "mallory@example.com"); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("a person was stored for a refused invite: %v", err)
	}
	checkInvites(t, s, a.ID, epoch, inv)
}

func testTeamsAcceptExpiredOrCanceled(t *testing.T, s pihu.Store) {
	a, owner := mustSignUp(t, s, "ada@example.com")
	expired := mustInvite(t, s, a.ID, owner.ID, "grace@example.com", pihu.RoleAdmin)
	canceled := mustInvite(t, s, a.ID, owner.ID, "carol@example.com", pihu.RoleAdmin)
	if err := s.CancelInvite(t.Context(), a.ID, canceled.ID, epoch); err != nil {
		t.Fatal(err)
	}
	_, err := s.AcceptInvite(t.Context(), expired.Digest, newUser("", "grace@example.com", "", "h"), expired.Expires)
	checkError(t, err, pihu.ENotFound, "")
	_, err = s.AcceptInvite(t.Context(), canceled.Digest, newUser("", "carol@example.com", "", "h"), epoch)
	checkError(t, err, pihu.ENotFound, "")
	checkInvites(t, s, a.ID, expired.Expires)
	if users, _ := s.ListUsers(t.Context(), a.ID); len(users) != 1 {
		t.Errorf("members: got %d, want the owner only", len(users))
	}
}

func testTeamsAcceptConcurrent(t *testing.T, s pihu.Store) {
	a, owner := mustSignUp(t, s, "ada@example.com")
	inv := mustInvite(t, s, a.ID, owner.ID, "grace@example.com", pihu.RoleViewer)
	const workers = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		won, lost int
	)
	for range workers {
		wg.Go(func() {
			_, err := s.AcceptInvite(t.Context(), inv.Digest, newUser("", "grace@example.com", "", "h"), epoch)
			mu.Lock()
			defer mu.Unlock()
			switch pihu.ErrorCode(err) {
			case "":
				won++
			case pihu.ENotFound:
				lost++
			default:
				t.Errorf("AcceptInvite: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 || lost != workers-1 {
		t.Errorf("uses: got %d won and %d refused, want 1 and %d", won, lost, workers-1)
	}
	if users, _ := s.ListUsers(t.Context(), a.ID); len(users) != 2 {
		t.Errorf("members: got %d, want 2", len(users))
	}
}

func testTeamsCancelInvite(t *testing.T, s pihu.Store) {
	a, owner := mustSignUp(t, s, "ada@example.com")
	b, _ := mustSignUp(t, s, "bob@example.com")
	keep := mustInvite(t, s, a.ID, owner.ID, "carol@example.com", pihu.RoleViewer)
	inv := mustInvite(t, s, a.ID, owner.ID, "grace@example.com", pihu.RoleViewer)
	// Another account's invite is not found.
	checkError(t, s.CancelInvite(t.Context(), b.ID, inv.ID, epoch), pihu.ENotFound, "")
	ev := pihu.NewInviteEvent(pihu.ActionInviteCanceled, owner.ID, "127.0.0.1", inv, epoch)
	if err := s.CancelInvite(t.Context(), a.ID, inv.ID, epoch, ev); err != nil {
		t.Fatalf("CancelInvite: %v", err)
	}
	checkInvites(t, s, a.ID, epoch, keep)
	checkError(t, s.CancelInvite(t.Context(), a.ID, inv.ID, epoch), pihu.ENotFound, "")
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: inv.ID, Limit: 10})
	if len(events) != 1 || events[0].Action != pihu.ActionInviteCanceled {
		t.Errorf("events: got %v, want the cancellation", events)
	}
}

// testTeamsRemoveMember: a member removed from one account loses it (and
// their sessions in it), and keeps their other accounts and sessions.
func testTeamsRemoveMember(t *testing.T, s pihu.Store) {
	a, ada := mustSignUp(t, s, "ada@example.com")
	b, grace := mustSignUp(t, s, "grace@example.com")
	inv := mustInvite(t, s, a.ID, ada.ID, "grace@example.com", pihu.RoleAdmin)
	if _, err := s.AcceptInvite(t.Context(), inv.Digest, person(grace), epoch); err != nil {
		t.Fatal(err)
	}
	inA := &pihu.Session{Digest: bytes.Repeat([]byte{1}, 32), UserID: grace.ID, AccountID: a.ID, Created: epoch, LastSeen: epoch, Expires: epoch.Add(time.Hour)}
	inB := &pihu.Session{Digest: bytes.Repeat([]byte{2}, 32), UserID: grace.ID, AccountID: b.ID, Created: epoch, LastSeen: epoch, Expires: epoch.Add(time.Hour)}
	for _, sess := range []*pihu.Session{inA, inB} {
		if err := s.CreateSession(t.Context(), sess); err != nil {
			t.Fatal(err)
		}
	}
	// Another account cannot remove her, nor can she be removed twice.
	checkError(t, s.RemoveMember(t.Context(), pihu.NewID(pihu.PrefixAccount), grace.ID), pihu.ENotFound, "")
	member := &pihu.User{ID: grace.ID, AccountID: a.ID}
	ev := pihu.NewUserEvent(pihu.ActionUserRemoved, ada.ID, "127.0.0.1", member, epoch)
	if err := s.RemoveMember(t.Context(), a.ID, grace.ID, ev); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	checkError(t, s.RemoveMember(t.Context(), a.ID, grace.ID), pihu.ENotFound, "")
	_, err := s.User(t.Context(), a.ID, grace.ID)
	checkError(t, err, pihu.ENotFound, "")
	_, err = s.SessionByDigest(t.Context(), inA.Digest)
	checkError(t, err, pihu.ENotFound, "")
	if _, err := s.SessionByDigest(t.Context(), inB.Digest); err != nil {
		t.Errorf("her session in her own account: %v", err)
	}
	checkMemberships(t, s, grace.ID, pihu.Membership{AccountID: b.ID, AccountName: b.Name, Role: pihu.RoleOwner, Joined: epoch})
	if _, err := s.UserByEmail(t.Context(), "grace@example.com"); err != nil {
		t.Errorf("the person after a removal: %v", err)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: grace.ID, Limit: 10})
	if len(events) != 1 || events[0].Action != pihu.ActionUserRemoved {
		t.Errorf("events: got %v, want the removal", events)
	}
	// She may be invited back.
	mustInvite(t, s, a.ID, ada.ID, "grace@example.com", pihu.RoleViewer)
}

func testTeamsRemoveLastOwner(t *testing.T, s pihu.Store) {
	a, ada := mustSignUp(t, s, "ada@example.com")
	checkError(t, s.RemoveMember(t.Context(), a.ID, ada.ID), pihu.EParameterInvalid, "")
	if _, err := s.User(t.Context(), a.ID, ada.ID); err != nil {
		t.Errorf("the owner after a refused removal: %v", err)
	}
}

// testTeamsSwitchSession: a session moves to another account of its
// person, and to no account they are not a member of.
func testTeamsSwitchSession(t *testing.T, s pihu.Store) {
	a, ada := mustSignUp(t, s, "ada@example.com")
	b, bob := mustSignUp(t, s, "bob@example.com")
	c, _ := mustSignUp(t, s, "carol@example.com")
	inv := mustInvite(t, s, b.ID, bob.ID, "ada@example.com", pihu.RoleViewer)
	if _, err := s.AcceptInvite(t.Context(), inv.Digest, person(ada), epoch); err != nil {
		t.Fatal(err)
	}
	sess := &pihu.Session{Digest: bytes.Repeat([]byte{3}, 32), UserID: ada.ID, AccountID: a.ID, Created: epoch, LastSeen: epoch, Expires: epoch.Add(time.Hour)}
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	if err := s.SwitchSession(t.Context(), sess.Digest, b.ID); err != nil {
		t.Fatalf("SwitchSession to an account of hers: %v", err)
	}
	if got, _ := s.SessionByDigest(t.Context(), sess.Digest); got.AccountID != b.ID || got.UserID != ada.ID {
		t.Errorf("session: got %+v, want ada in %s", got, b.ID)
	}
	checkError(t, s.SwitchSession(t.Context(), sess.Digest, c.ID), pihu.ENotFound, "")
	checkError(t, s.SwitchSession(t.Context(), bytes.Repeat([]byte{9}, 32), a.ID), pihu.ENotFound, "")
	if got, _ := s.SessionByDigest(t.Context(), sess.Digest); got.AccountID != b.ID {
		t.Errorf("session after a refused switch: got %+v, want it in %s still", got, b.ID)
	}
}
