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
