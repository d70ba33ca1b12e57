package storetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// TeamsUpgrade is what a store's migration test writes, with its own SQL,
// in the schema of before memberships (a user belonged to one account,
// users.account_id and users.role, and an invite was a user without a
// password holding their email server-wide, with an invite link), before
// it migrates and calls CheckTeamsUpgrade. Every time is At; links expire a
// day later.
type TeamsUpgrade struct {
	At time.Time
	// Account ("Acme") has Owner (ada@example.com, owner, password hash
	// "$argon2id$ada"), Member (carol@example.com, viewer, password
	// "$argon2id$carol", her invite link used) and Invited
	// (bob@example.com, admin, no password, invite link InviteToken
	// unused).
	Account, Owner, Member, Invited string
	InviteToken                     string
	// SetupAccount ("Default") has SetupUser, its owner without email nor
	// password, and the unused setup link SetupToken.
	SetupAccount, SetupUser string
	SetupToken              string
}

// NewTeamsUpgrade returns the ids and tokens of a TeamsUpgrade.
func NewTeamsUpgrade() TeamsUpgrade {
	return TeamsUpgrade{
		At:      epoch,
		Account: pihu.NewID(pihu.PrefixAccount), Owner: pihu.NewID(pihu.PrefixUser),
		Member: pihu.NewID(pihu.PrefixUser), Invited: pihu.NewID(pihu.PrefixUser),
		InviteToken:  pihu.NewID("token_"),
		SetupAccount: pihu.NewID(pihu.PrefixAccount), SetupUser: pihu.NewID(pihu.PrefixUser),
		SetupToken: pihu.NewID("token_"),
	}
}

// Digest is the SHA-256 of a token, as links keep it.
func Digest(token string) []byte {
	d := sha256.Sum256([]byte(token))
	return d[:]
}

// CheckTeamsUpgrade checks store s, migrated from u's data: every user is
// a member of their account with their role; the invited user who never
// used their link is gone, their email free, and their link an invite that
// works; the setup link still works.
func CheckTeamsUpgrade(t *testing.T, s pihu.Store, u TeamsUpgrade) {
	t.Helper()
	at := epoch.Add(time.Hour)
	users, err := s.ListUsers(t.Context(), u.Account)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if len(users) != 2 || users[0].ID != u.Owner || users[0].Role != pihu.RoleOwner || users[0].Email != "ada@example.com" ||
		users[0].PasswordHash != "$argon2id$ada" || users[1].ID != u.Member || users[1].Role != pihu.RoleViewer {
		t.Fatalf("members after the migration: got %+v, want ada (owner) and carol (viewer)", users)
	}
	checkMemberships(t, s, u.Member, pihu.Membership{AccountID: u.Account, AccountName: "Acme", Role: pihu.RoleViewer, Joined: epoch})
	if _, err := s.UserByEmail(t.Context(), "bob@example.com"); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("the invited user who never joined: %v, want no person with the email", err)
	}
	invites, err := s.ListInvites(t.Context(), u.Account, at)
	if err != nil || len(invites) != 1 || invites[0].Email != "bob@example.com" || invites[0].Role != pihu.RoleAdmin ||
		!invites[0].Expires.Equal(epoch.Add(24*time.Hour)) {
		t.Fatalf("invites after the migration: got %+v, %v; want bob's, admin", invites, err)
	}
	// bob's email is his to sign up with, and his old link then joins him.
	b, bob := mustSignUp(t, s, "bob@example.com")
	member, err := s.AcceptInvite(t.Context(), Digest(u.InviteToken), person(bob), at)
	if err != nil || member.Role != pihu.RoleAdmin || member.AccountID != u.Account {
		t.Fatalf("bob's old invite link: got %+v, %v", member, err)
	}
	checkMemberships(t, s, bob.ID,
		pihu.Membership{AccountID: b.ID, AccountName: b.Name, Role: pihu.RoleOwner, Joined: epoch},
		pihu.Membership{AccountID: u.Account, AccountName: "Acme", Role: pihu.RoleAdmin, Joined: at})
	owner, err := s.UseLink(t.Context(), Digest(u.SetupToken), "ops@example.com", "$argon2id$ops", at)
	if err != nil || owner.ID != u.SetupUser || owner.AccountID != u.SetupAccount || owner.Role != pihu.RoleOwner {
		t.Errorf("the setup link after the migration: got %+v, %v", owner, err)
	}
}
