package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runPasskeys(t *testing.T, run runFunc) {
	run(t, "CreateListUse", testPasskeysCreateListUse)
	run(t, "RenameAndDelete", testPasskeysRenameAndDelete)
	run(t, "OtherAccountNotFound", testPasskeysOtherAccountNotFound)
	run(t, "CredentialOnce", testPasskeysCredentialOnce)
	run(t, "Limit", testPasskeysLimit)
	run(t, "ChallengePutTake", testPasskeyChallengePutTake)
	run(t, "ChallengeExpiry", testPasskeyChallengeExpiry)
	run(t, "ChallengeBound", testPasskeyChallengeBound)
	run(t, "ChallengeTakenOnce", testPasskeyChallengeTakenOnce)
}

// newPasskey is a passkey of u with credential id cred.
func newPasskey(u *pihu.User, name, cred string, at time.Time) *pihu.Passkey {
	return &pihu.Passkey{
		ID: pihu.NewID(pihu.PrefixPasskey), UserID: u.ID, Name: name,
		CredentialID: []byte(cred), Credential: []byte(`{"id":"` + cred + `"}`), Created: at,
	}
}

// A passkey stored is listed, found by its credential id, counted on the
// person (User.Passkeys, whichever way they are read), and its use moves
// its credential and LastUsed on, with the events given.
func testPasskeysCreateListUse(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	ev := pihu.NewUserEvent(pihu.ActionUserPasskeyAdded, u.ID, "127.0.0.1", u, epoch)
	p1 := newPasskey(u, "Laptop", "cred-1", epoch)
	if err := s.CreatePasskey(t.Context(), a.ID, p1, ev); err != nil {
		t.Fatalf("CreatePasskey: %v", err)
	}
	p2 := newPasskey(u, "Phone", "cred-2", epoch.Add(time.Minute))
	if err := s.CreatePasskey(t.Context(), a.ID, p2); err != nil {
		t.Fatalf("CreatePasskey: %v", err)
	}
	list, err := s.ListPasskeys(t.Context(), u.ID)
	if err != nil || len(list) != 2 || list[0].ID != p1.ID || list[1].ID != p2.ID {
		t.Fatalf("ListPasskeys: got %v, %v, want %s then %s", list, err, p1.ID, p2.ID)
	}
	if got := list[0]; got.Name != "Laptop" || !bytes.Equal(got.CredentialID, p1.CredentialID) || !bytes.Equal(got.Credential, p1.Credential) || !got.Created.Equal(epoch) || got.LastUsed != nil {
		t.Errorf("ListPasskeys[0]: got %+v", got)
	}
	if got, _ := s.User(t.Context(), a.ID, u.ID); got.Passkeys != 2 || !got.HasSecondFactor() {
		t.Errorf("User: got %d passkeys, want 2", got.Passkeys)
	}
	if got, _ := s.UserByEmail(t.Context(), "ada@example.com"); got.Passkeys != 2 {
		t.Errorf("UserByEmail: got %d passkeys, want 2", got.Passkeys)
	}
	if got, _ := s.ListUsers(t.Context(), a.ID); len(got) != 1 || got[0].Passkeys != 2 {
		t.Errorf("ListUsers: got %v", got)
	}
	got, err := s.PasskeyByCredentialID(t.Context(), []byte("cred-2"))
	if err != nil || got.ID != p2.ID || got.UserID != u.ID {
		t.Fatalf("PasskeyByCredentialID: got %+v, %v, want %s", got, err, p2.ID)
	}
	if _, err := s.PasskeyByCredentialID(t.Context(), []byte("cred-3")); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("PasskeyByCredentialID(unknown): got %v, want not_found", err)
	}
	used := pihu.NewUserEvent(pihu.ActionUserPasskeyUsed, u.ID, "127.0.0.1", u, epoch.Add(time.Hour))
	if err := s.UsePasskey(t.Context(), p2.ID, []byte(`{"count":2}`), epoch.Add(time.Hour), used); err != nil {
		t.Fatalf("UsePasskey: %v", err)
	}
	got, _ = s.PasskeyByCredentialID(t.Context(), []byte("cred-2"))
	if string(got.Credential) != `{"count":2}` || got.LastUsed == nil || !got.LastUsed.Equal(epoch.Add(time.Hour)) {
		t.Errorf("after UsePasskey: got %+v", got)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: u.ID, Limit: 10})
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
	}
	if fmt.Sprint(actions) != fmt.Sprint([]string{pihu.ActionUserPasskeyUsed, pihu.ActionUserPasskeyAdded, pihu.ActionUserSignedUp}) &&
		fmt.Sprint(actions) != fmt.Sprint([]string{pihu.ActionUserPasskeyUsed, pihu.ActionUserPasskeyAdded}) {
		t.Errorf("events: got %v", actions)
	}
}

// Renaming and removing change the one passkey, with their events; a
// removed passkey is found no more, and cannot be used.
func testPasskeysRenameAndDelete(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	p := newPasskey(u, "Laptop", "cred-1", epoch)
	if err := s.CreatePasskey(t.Context(), a.ID, p); err != nil {
		t.Fatalf("CreatePasskey: %v", err)
	}
	if err := s.RenamePasskey(t.Context(), a.ID, u.ID, p.ID, "Work laptop"); err != nil {
		t.Fatalf("RenamePasskey: %v", err)
	}
	if got, _ := s.ListPasskeys(t.Context(), u.ID); len(got) != 1 || got[0].Name != "Work laptop" {
		t.Errorf("after RenamePasskey: got %v", got)
	}
	ev := pihu.NewUserEvent(pihu.ActionUserPasskeyRemoved, u.ID, "127.0.0.1", u, epoch)
	if err := s.DeletePasskey(t.Context(), a.ID, u.ID, p.ID, ev); err != nil {
		t.Fatalf("DeletePasskey: %v", err)
	}
	if got, _ := s.ListPasskeys(t.Context(), u.ID); len(got) != 0 {
		t.Errorf("after DeletePasskey: got %v", got)
	}
	if got, _ := s.User(t.Context(), a.ID, u.ID); got.Passkeys != 0 || got.HasSecondFactor() {
		t.Errorf("User after DeletePasskey: got %d passkeys", got.Passkeys)
	}
	if _, err := s.PasskeyByCredentialID(t.Context(), p.CredentialID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("PasskeyByCredentialID after DeletePasskey: got %v, want not_found", err)
	}
	if err := s.UsePasskey(t.Context(), p.ID, []byte(`{}`), epoch); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("UsePasskey after DeletePasskey: got %v, want not_found", err)
	}
	if err := s.DeletePasskey(t.Context(), a.ID, u.ID, p.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("DeletePasskey twice: got %v, want not_found", err)
	}
	if events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Actions: []string{pihu.ActionUserPasskeyRemoved}, Limit: 5}); len(events) != 1 {
		t.Errorf("passkey_removed events: got %d, want 1", len(events))
	}
}

// Another person's passkey, or a person outside the account, is
// not_found, and nothing changes.
func testPasskeysOtherAccountNotFound(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	b, v := mustSignUp(t, s, "grace@example.com")
	p := newPasskey(u, "Laptop", "cred-1", epoch)
	if err := s.CreatePasskey(t.Context(), a.ID, p); err != nil {
		t.Fatalf("CreatePasskey: %v", err)
	}
	if err := s.CreatePasskey(t.Context(), b.ID, newPasskey(u, "Other", "cred-2", epoch)); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("CreatePasskey in another account: got %v, want not_found", err)
	}
	if err := s.RenamePasskey(t.Context(), b.ID, v.ID, p.ID, "Mine"); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("RenamePasskey of another's: got %v, want not_found", err)
	}
	if err := s.DeletePasskey(t.Context(), b.ID, v.ID, p.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("DeletePasskey of another's: got %v, want not_found", err)
	}
	if err := s.DeletePasskey(t.Context(), b.ID, u.ID, p.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("DeletePasskey through another account: got %v, want not_found", err)
	}
	if got, _ := s.ListPasskeys(t.Context(), u.ID); len(got) != 1 || got[0].Name != "Laptop" {
		t.Errorf("after refused changes: got %v", got)
	}
}

// A credential id is registered once, however many register it at once.
func testPasskeysCredentialOnce(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = s.CreatePasskey(t.Context(), a.ID, newPasskey(u, "Key", "same", epoch)) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case err != pihu.ErrPasskeyRegistered:
			t.Errorf("CreatePasskey: got %v, want nil or ErrPasskeyRegistered", err)
		}
	}
	if ok != 1 {
		t.Errorf("registered %d times, want 1", ok)
	}
}

// A person has at most pihu.MaxPasskeys.
func testPasskeysLimit(t *testing.T, s pihu.Store) {
	a, u := mustSignUp(t, s, "ada@example.com")
	for i := range pihu.MaxPasskeys {
		if err := s.CreatePasskey(t.Context(), a.ID, newPasskey(u, "Key", fmt.Sprint("cred-", i), epoch)); err != nil {
			t.Fatalf("CreatePasskey %d: %v", i, err)
		}
	}
	if err := s.CreatePasskey(t.Context(), a.ID, newPasskey(u, "Key", "one-more", epoch)); err != pihu.ErrTooManyPasskeys {
		t.Errorf("CreatePasskey beyond the limit: got %v, want ErrTooManyPasskeys", err)
	}
}

// newChallenge is a challenge named name, expiring at expires.
func newChallenge(name string, expires time.Time) *pihu.PasskeyChallenge {
	return &pihu.PasskeyChallenge{Challenge: name, Session: []byte(`{"challenge":"` + name + `"}`), Expires: expires}
}

// A challenge put is taken back as it was put, once; an unknown one is
// not found.
func testPasskeyChallengePutTake(t *testing.T, s pihu.Store) {
	ctx := t.Context()
	reg := newChallenge("reg", epoch.Add(pihu.PasskeyChallengeLifetime))
	reg.Register, reg.UserID, reg.SessionDigest = true, "user_1", []byte{1, 2, 3}
	anon := newChallenge("anon", epoch.Add(pihu.PasskeyChallengeLifetime))
	for _, c := range []*pihu.PasskeyChallenge{reg, anon} {
		if err := s.PutPasskeyChallenge(ctx, c, epoch, pihu.MaxPasskeyChallenges); err != nil {
			t.Fatalf("PutPasskeyChallenge(%s): %v", c.Challenge, err)
		}
	}
	if err := s.PutPasskeyChallenge(ctx, newChallenge("reg", epoch.Add(time.Minute)), epoch, pihu.MaxPasskeyChallenges); err == nil {
		t.Error("PutPasskeyChallenge of a challenge stored already: no error")
	}
	for _, want := range []*pihu.PasskeyChallenge{reg, anon} {
		got, err := s.TakePasskeyChallenge(ctx, want.Challenge, epoch.Add(time.Minute))
		if err != nil {
			t.Fatalf("TakePasskeyChallenge(%s): %v", want.Challenge, err)
		}
		if got.Challenge != want.Challenge || !bytes.Equal(got.Session, want.Session) || got.Register != want.Register ||
			got.UserID != want.UserID || !bytes.Equal(got.SessionDigest, want.SessionDigest) || !got.Expires.Equal(want.Expires) {
			t.Errorf("TakePasskeyChallenge(%s): got %+v, want %+v", want.Challenge, got, want)
		}
		if want.SessionDigest == nil && got.SessionDigest != nil {
			t.Errorf("TakePasskeyChallenge(%s): a session digest of none: got %v, want nil", want.Challenge, got.SessionDigest)
		}
		if _, err := s.TakePasskeyChallenge(ctx, want.Challenge, epoch.Add(time.Minute)); pihu.ErrorCode(err) != pihu.ENotFound {
			t.Errorf("TakePasskeyChallenge(%s) a second time: got %v, want not_found", want.Challenge, err)
		}
	}
	if _, err := s.TakePasskeyChallenge(ctx, "never-put", epoch); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("TakePasskeyChallenge of a challenge never put: got %v, want not_found", err)
	}
}

// A challenge is not taken at or after its expiry, and is gone then; a
// put drops the challenges expired at its time.
func testPasskeyChallengeExpiry(t *testing.T, s pihu.Store) {
	ctx := t.Context()
	put := func(c *pihu.PasskeyChallenge, now time.Time) {
		t.Helper()
		if err := s.PutPasskeyChallenge(ctx, c, now, pihu.MaxPasskeyChallenges); err != nil {
			t.Fatalf("PutPasskeyChallenge(%s): %v", c.Challenge, err)
		}
	}
	put(newChallenge("late", epoch.Add(time.Minute)), epoch)
	if _, err := s.TakePasskeyChallenge(ctx, "late", epoch.Add(time.Minute)); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("TakePasskeyChallenge at its expiry: got %v, want not_found", err)
	}
	if _, err := s.TakePasskeyChallenge(ctx, "late", epoch); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("TakePasskeyChallenge after a take at its expiry: got %v, want not_found (removed)", err)
	}

	put(newChallenge("expired", epoch.Add(time.Minute)), epoch)
	put(newChallenge("waiting", epoch.Add(3*time.Minute)), epoch)
	put(newChallenge("new", epoch.Add(7*time.Minute)), epoch.Add(2*time.Minute))
	// Taken at a time before its expiry, the expired one is gone: the
	// put at 2 minutes dropped it.
	if _, err := s.TakePasskeyChallenge(ctx, "expired", epoch); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("a challenge expired when another was put: got %v, want not_found (dropped)", err)
	}
	for _, name := range []string{"waiting", "new"} {
		if _, err := s.TakePasskeyChallenge(ctx, name, epoch.Add(2*time.Minute)); err != nil {
			t.Errorf("TakePasskeyChallenge(%s) before its expiry: %v", name, err)
		}
	}
}

// Beyond the bound, a put drops the challenges expiring first.
func testPasskeyChallengeBound(t *testing.T, s pihu.Store) {
	ctx := t.Context()
	// Put out of order: c0 expires first, c3 last.
	for _, name := range []string{"c2", "c0", "c1", "c3"} {
		expires := time.Duration(name[1]-'0'+1) * time.Minute
		if err := s.PutPasskeyChallenge(ctx, newChallenge(name, epoch.Add(expires)), epoch, 3); err != nil {
			t.Fatalf("PutPasskeyChallenge(%s): %v", name, err)
		}
	}
	// c3's put found c2, c0, c1 waiting, three: c0, expiring first, went.
	for name, want := range map[string]bool{"c0": false, "c1": true, "c2": true, "c3": true} {
		_, err := s.TakePasskeyChallenge(ctx, name, epoch)
		if got := err == nil; got != want {
			t.Errorf("TakePasskeyChallenge(%s) after 4 puts with a bound of 3: got %v (%v), want taken %v", name, got, err, want)
		}
	}
}

// Of concurrent takes of one challenge, exactly one gets it.
func testPasskeyChallengeTakenOnce(t *testing.T, s pihu.Store) {
	ctx := t.Context()
	if err := s.PutPasskeyChallenge(ctx, newChallenge("once", epoch.Add(time.Minute)), epoch, pihu.MaxPasskeyChallenges); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		taken int
		errs  []error
	)
	for range n {
		wg.Go(func() {
			_, err := s.TakePasskeyChallenge(ctx, "once", epoch)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				taken++
			case pihu.ErrorCode(err) != pihu.ENotFound:
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if taken != 1 || len(errs) > 0 {
		t.Errorf("%d concurrent takes of one challenge: %d got it, errors %v; want exactly 1", n, taken, errs)
	}
}
