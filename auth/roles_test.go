package auth_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
)

// callCounter is a real SQLite store that counts the reads an
// Authenticator makes: keys (by digest and by id), accounts and roles.
type callCounter struct {
	*sqlite.DB
	keys, accounts, roles atomic.Int64
}

func (s *callCounter) KeyByDigest(ctx context.Context, d []byte) (*pihu.Key, error) {
	s.keys.Add(1)
	return s.DB.KeyByDigest(ctx, d)
}

func (s *callCounter) Key(ctx context.Context, accountID, id string) (*pihu.Key, error) {
	s.keys.Add(1)
	return s.DB.Key(ctx, accountID, id)
}

func (s *callCounter) Account(ctx context.Context, id string) (*pihu.Account, error) {
	s.accounts.Add(1)
	return s.DB.Account(ctx, id)
}

func (s *callCounter) Roles(ctx context.Context, accountID string) ([]*pihu.KeyRole, error) {
	s.roles.Add(1)
	return s.DB.Roles(ctx, accountID)
}

func (s *callCounter) reset() { s.keys.Store(0); s.accounts.Store(0); s.roles.Store(0) }

func (s *callCounter) counts() (keys, accounts, roles int64) {
	return s.keys.Load(), s.accounts.Load(), s.roles.Load()
}

// roleFixture is an account with its owner key, in a counted store.
type roleFixture struct {
	store *callCounter
	owner *pihu.Key
	now   time.Time
}

func newRoleFixture(tb testing.TB) *roleFixture {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), sqlitetest.Path(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	now := time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "A", Created: now}
	owner, _, err := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, now)
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.CreateAccount(context.Background(), a, owner); err != nil {
		tb.Fatal(err)
	}
	return &roleFixture{store: &callCounter{DB: db}, owner: owner, now: now}
}

func (f *roleFixture) role(tb testing.TB, name string, perms ...pihu.Permission) *pihu.KeyRole {
	tb.Helper()
	r, err := pihu.NewKeyRole(f.owner.AccountID, pihu.RoleRequest{Name: name, Permissions: perms}, f.owner, f.now)
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.store.CreateRole(context.Background(), r); err != nil {
		tb.Fatal(err)
	}
	return r
}

// keys stores n keys with permissions perms and roles, in one
// transaction, and returns their secrets.
func (f *roleFixture) keys(tb testing.TB, n int, perms pihu.Permissions, roles ...*pihu.KeyRole) []string {
	tb.Helper()
	all, err := f.store.DB.Roles(context.Background(), f.owner.AccountID)
	if err != nil {
		tb.Fatal(err)
	}
	keys := make([]*pihu.Key, n)
	secrets := make([]string, n)
	for i := range n {
		req := pihu.KeyRequest{Name: "K", Permissions: perms, Roles: pihu.RoleIDs(roles), AccountRoles: all}
		if keys[i], secrets[i], err = pihu.NewKey(f.owner.AccountID, req, f.owner, f.now); err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.store.ImportKeys(context.Background(), keys); err != nil {
		tb.Fatal(err)
	}
	return secrets
}

func (f *roleFixture) setPermissions(tb testing.TB, r *pihu.KeyRole, perms ...pihu.Permission) {
	tb.Helper()
	if _, err := f.store.UpdateRole(context.Background(), pihu.RoleUpdate{AccountID: r.AccountID, ID: r.ID,
		Apply: func(r *pihu.KeyRole) error { r.Permissions = perms; return nil }}); err != nil {
		tb.Fatal(err)
	}
}

func TestRoles_Rights(t *testing.T) {
	ctx := context.Background()
	f := newRoleFixture(t)
	support := f.role(t, "support", "candidate:read", "interview:read")
	writer := f.role(t, "writer", "interview:write", "candidate:read")
	secret := f.keys(t, 1, pihu.Permissions{"webhook:read"}, support, writer)[0]
	plain := f.keys(t, 1, pihu.Permissions{"webhook:read"})[0]
	a := auth.New(f.store, auth.Options{Now: func() time.Time { return f.now }, TTL: time.Hour})
	want := pihu.Permissions{"webhook:read", "candidate:read", "interview:read", "interview:write"}

	for _, what := range []string{"Cold", "Warm"} {
		k, err := a.Authenticate(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(k.Rights(), want) || !slices.Equal(k.Roles, []string{support.ID, writer.ID}) ||
			!slices.Equal(k.Permissions, pihu.Permissions{"webhook:read"}) {
			t.Errorf("%s: got permissions %v, roles %v, rights %v; want rights %v", what, k.Permissions, k.Roles, k.Rights(), want)
		}
	}
	if _, _, roles := f.store.counts(); roles != 1 {
		t.Errorf("roles read %d times, want once", roles)
	}
	k, err := a.Authenticate(ctx, plain)
	if err != nil || !slices.Equal(k.Rights(), pihu.Permissions{"webhook:read"}) || len(k.Roles) != 0 {
		t.Errorf("a key without roles: got %v, %v", k, err)
	}
	if _, _, roles := f.store.counts(); roles != 1 {
		t.Errorf("a key without roles read its account's roles")
	}

	t.Run("DeletedRoleGrantsNothing", func(t *testing.T) {
		if _, _, err := f.store.DeleteRole(ctx, pihu.RoleDeletion{AccountID: writer.AccountID, ID: writer.ID, At: f.now, Force: true}); err != nil {
			t.Fatal(err)
		}
		a.InvalidateRoles(writer.AccountID)
		k, err := a.Authenticate(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if want := (pihu.Permissions{"webhook:read", "candidate:read", "interview:read"}); !slices.Equal(k.Rights(), want) ||
			!slices.Equal(k.Roles, []string{support.ID}) {
			t.Errorf("got roles %v, rights %v; want roles [%s], rights %v", k.Roles, k.Rights(), support.ID, want)
		}
	})

	t.Run("TTLReadsRolesAgain", func(t *testing.T) {
		f.setPermissions(t, support, "candidate:read")
		f.now = f.now.Add(2 * time.Hour)
		k, err := a.Authenticate(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if want := (pihu.Permissions{"webhook:read", "candidate:read"}); !slices.Equal(k.Rights(), want) {
			t.Errorf("after the TTL: got rights %v, want %v", k.Rights(), want)
		}
	})
}

// TestRoles_ChangeReachesCachedKeys shows that a change of a role reaches
// 10,000 cached keys holding it with one read of the account's roles, and
// no read of any key: a key's rights are resolved from the roles in
// memory, not copied into its cache entry.
func TestRoles_ChangeReachesCachedKeys(t *testing.T) {
	ctx := context.Background()
	f := newRoleFixture(t)
	r := f.role(t, "reader", "candidate:read")
	other := f.role(t, "other", "webhook:read")
	n := 10_000
	if testing.Short() {
		n = 1_000
	}
	secrets := f.keys(t, n, nil, r, other)
	a := auth.New(f.store, auth.Options{Now: func() time.Time { return f.now }, TTL: time.Hour})

	check := func(t *testing.T, want pihu.Permissions) {
		t.Helper()
		for _, s := range secrets {
			k, err := a.Authenticate(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(k.Rights(), want) {
				t.Fatalf("key %s: got rights %v, want %v", k.ID, k.Rights(), want)
			}
		}
	}
	check(t, pihu.Permissions{"candidate:read", "webhook:read"})
	if keys, _, roles := f.store.counts(); keys != int64(n) || roles != 1 {
		t.Fatalf("warming: %d key reads and %d role reads, want %d and 1", keys, roles, n)
	}

	for _, step := range []struct {
		name   string
		change func(t *testing.T)
		want   pihu.Permissions
	}{
		{"Changed", func(t *testing.T) { f.setPermissions(t, r, "candidate:write") }, pihu.Permissions{"candidate:write", "webhook:read"}},
		{"Deleted", func(t *testing.T) {
			if _, _, err := f.store.DeleteRole(ctx, pihu.RoleDeletion{AccountID: r.AccountID, ID: r.ID, At: f.now, Force: true}); err != nil {
				t.Fatal(err)
			}
		}, pihu.Permissions{"webhook:read"}},
	} {
		t.Run(step.name, func(t *testing.T) {
			step.change(t)
			f.store.reset()
			a.InvalidateRoles(r.AccountID)
			check(t, step.want)
			if keys, accounts, roles := f.store.counts(); keys != 0 || accounts != 0 || roles != 1 {
				t.Errorf("%d keys after the change: %d key reads, %d account reads, %d role reads; want 0, 0 and 1", n, keys, accounts, roles)
			}
		})
	}
}

// fanBus is an auth.Invalidations within one process with several
// subscribers: the instances of a fleet.
type fanBus struct {
	mu   sync.Mutex
	subs []func(string)
	wg   sync.WaitGroup
}

func (b *fanBus) Publish(_ context.Context, msg string) error {
	b.mu.Lock()
	subs := slices.Clone(b.subs)
	b.mu.Unlock()
	for _, f := range subs {
		f(msg)
	}
	return nil
}

func (b *fanBus) Subscribe(ctx context.Context, invalidated func(string), connected func(bool)) {
	b.mu.Lock()
	b.subs = append(b.subs, invalidated)
	b.mu.Unlock()
	connected(true)
	b.wg.Done()
	<-ctx.Done()
}

// TestRoles_InvalidationReachesOtherInstances checks that a role changed
// through one instance changes the rights of its keys on another at its
// next request, through Options.Invalidations, without reading the keys.
func TestRoles_InvalidationReachesOtherInstances(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newRoleFixture(t)
	r := f.role(t, "reader", "candidate:read")
	secret := f.keys(t, 1, pihu.Permissions{"webhook:read"}, r)[0]
	bus := &fanBus{}
	bus.wg.Add(2)
	one := auth.New(f.store, auth.Options{Now: func() time.Time { return f.now }, TTL: time.Hour, Invalidations: bus})
	two := auth.New(f.store, auth.Options{Now: func() time.Time { return f.now }, TTL: time.Hour, Invalidations: bus})
	go one.Listen(ctx)
	go two.Listen(ctx)
	bus.wg.Wait()
	if _, err := two.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	f.setPermissions(t, r, "interview:read")
	f.store.reset()
	one.InvalidateRoles(r.AccountID)
	k, err := two.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if want := (pihu.Permissions{"webhook:read", "interview:read"}); !slices.Equal(k.Rights(), want) {
		t.Errorf("the other instance: got rights %v, want %v", k.Rights(), want)
	}
	if keys, _, roles := f.store.counts(); keys != 0 || roles != 1 {
		t.Errorf("the other instance read %d keys and %d role tables, want 0 and 1", keys, roles)
	}
}

// BenchmarkAuthenticate_WarmRoles is BenchmarkAuthenticate_Warm for a key
// holding two roles: the same work, a comparison more.
func BenchmarkAuthenticate_WarmRoles(b *testing.B) {
	ctx := context.Background()
	f := newRoleFixture(b)
	secret := f.keys(b, 1, pihu.Permissions{"webhook:read"}, f.role(b, "r1", "candidate:read"), f.role(b, "r2", "interview:read"))[0]
	a := auth.New(f.store, auth.Options{Now: func() time.Time { return f.now }, TTL: time.Hour})
	if _, err := a.Authenticate(ctx, secret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRoles_ConcurrentChanges changes a role while keys holding it are
// authenticated from several goroutines: no race, and once the last change
// is invalidated, every key has its rights.
func TestRoles_ConcurrentChanges(t *testing.T) {
	ctx := context.Background()
	f := newRoleFixture(t)
	r := f.role(t, "r", "candidate:read")
	secrets := f.keys(t, 20, pihu.Permissions{"webhook:read"}, r)
	a := auth.New(f.store, auth.Options{Now: func() time.Time { return f.now }, TTL: time.Hour})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := i; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := a.Authenticate(ctx, secrets[j%len(secrets)]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	perms := []pihu.Permission{"candidate:read", "interview:read", "candidate:write"}
	for i := range 30 {
		f.setPermissions(t, r, perms[i%len(perms)])
		a.InvalidateRoles(r.AccountID)
	}
	close(stop)
	wg.Wait()
	want := pihu.Permissions{"webhook:read", perms[29%len(perms)]}
	for _, s := range secrets {
		k, err := a.Authenticate(ctx, s)
		if err != nil || !slices.Equal(k.Rights(), want) {
			t.Fatalf("after the last change: got %v, %v; want %v", k.Rights(), err, want)
		}
	}
}
