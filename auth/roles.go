package auth

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
)

// A key's rights are its own permissions and those of its roles, as the
// roles are now (pihu.Key.Rights). A cached key keeps its role ids, never
// its roles' permissions: the roles of each account with cached keys are
// held once, in a roleTable shared by the account's entries, read from
// the store in one call (pihu.RoleStore.Roles) when a key that holds a
// role needs them and the table is not current. So a change of a role
// reaches every cached key holding it by dropping one table
// (InvalidateRoles, carried to the other instances as a key's
// invalidation is), and costs one read for the account, not one a key.
//
// What a key may do is resolved once for all the cached keys sharing its
// permissions and roles (sharedPerms, which remembers the rights with the
// generation of the table it read), so that the warm path of a key with
// roles costs a comparison more than one without.

// roleTable is an account's roles as the cache holds them. Guarded by
// Authenticator.mu.
type roleTable struct {
	// perms are the permissions of each role, by id; valid is whether
	// they may be used, loaded when they were read (Unix nanoseconds),
	// and gen the load's generation (Authenticator.roleLoads).
	perms  map[string]pihu.Permissions
	valid  bool
	loaded int64
	gen    uint64
}

// rolesMessage starts the message of Options.Invalidations that tells the
// instances that an account's roles changed ("roles:acct_…"); any other
// message is a key id, which never holds a colon.
const rolesMessage = "roles:"

// roleReader is what an Authenticator needs of a store to resolve the
// roles of keys; every pihu.Store has it.
type roleReader interface {
	Roles(ctx context.Context, accountID string) ([]*pihu.KeyRole, error)
}

// current reports whether t may be used at now without reading the
// roles again, entries being trusted for ttl.
func (t *roleTable) current(now int64, ttl time.Duration) bool {
	return t.valid && now-t.loaded < int64(ttl)
}

// rightsOf sets k's rights, and its roles to those that exist, from the
// cache of the key s holds, if they are resolved against the current
// roles of its account; it reports whether they were. Read lock.
func (a *Authenticator) rightsOf(s *slot, k *pihu.Key, now int64) bool {
	sp := &a.c.perms.items[s.perms]
	if sp.roles == nil {
		return true
	}
	rt := a.c.acct(s).roles
	if sp.gen == 0 || sp.gen != rt.gen || !rt.current(now, a.ttlNow()) {
		return false
	}
	k.Roles = sp.live
	k.SetRights(sp.rights)
	return true
}

// withRights returns k, handed out by the cache with its rights resolved
// if resolved, else resolved now (see resolve).
func (a *Authenticator) withRights(ctx context.Context, k *pihu.Key, resolved bool) (*pihu.Key, error) {
	if resolved || len(k.Roles) == 0 {
		return k, nil
	}
	if err := a.resolve(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}

// resolve sets the rights of k, which holds roles, from its account's
// roles (read if the cache holds them not, or not current), keeps only
// the roles that exist in k.Roles, and remembers both for the cached keys
// that share k's permissions and roles.
func (a *Authenticator) resolve(ctx context.Context, k *pihu.Key) error {
	perms, gen, err := a.roleTable(ctx, k.AccountID)
	if err != nil {
		return err
	}
	own, ids := k.Permissions, k.Roles
	lists := make([]pihu.Permissions, 0, len(ids))
	live := make([]string, 0, len(ids))
	for _, id := range ids {
		if ps, ok := perms[id]; ok {
			lists = append(lists, ps)
			live = append(live, id)
		}
	}
	rights := pihu.RoleRights(own, lists...)
	k.Roles = live
	k.SetRights(rights)
	if gen == 0 {
		return nil
	}
	a.mu.Lock()
	if i, ok := a.c.permIdx[permsName(own, ids)]; ok {
		if ca := a.c.accounts[k.AccountID]; ca != nil && ca.roles.gen == gen {
			sp := &a.c.perms.items[i]
			sp.rights, sp.live, sp.gen = rights, live, gen
		}
	}
	a.mu.Unlock()
	return nil
}

// roleTable returns the permissions of account accountID's roles, by id,
// and the generation of the table that holds them (0 if none does: they
// were read for this request only). It reads the store if the cache
// holds them not, or not current; if the store is unavailable, a table
// within StaleIfError past its TTL answers, as a cached key does.
func (a *Authenticator) roleTable(ctx context.Context, accountID string) (map[string]pihu.Permissions, uint64, error) {
	now := a.now().UnixNano()
	a.mu.RLock()
	var old *roleTable
	if ca := a.c.accounts[accountID]; ca != nil {
		old = ca.roles
		if old.current(now, a.ttlNow()) {
			perms, gen := old.perms, old.gen
			a.mu.RUnlock()
			return perms, gen, nil
		}
	}
	epoch := a.roleEpoch
	a.mu.RUnlock()
	if a.roles == nil {
		return nil, 0, errors.New("auth: the store cannot read roles")
	}
	roles, err := a.roles.Roles(ctx, accountID)
	if err != nil {
		return a.staleRoles(old, now, err)
	}
	perms := make(map[string]pihu.Permissions, len(roles))
	for _, r := range roles {
		perms[r.ID] = r.Permissions
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ca := a.c.accounts[accountID]
	if ca == nil || a.roleEpoch != epoch {
		// Roles changed while these were read: they may be the roles as
		// they were. Use them for this request only.
		return perms, 0, nil
	}
	a.roleLoads++
	*ca.roles = roleTable{perms: perms, valid: true, loaded: now, gen: a.roleLoads}
	return perms, a.roleLoads, nil
}

// staleRoles answers a read of roles that failed with err from t, the
// table as it was, if err is the store's unavailability, t was not
// invalidated and is within StaleIfError past its TTL; else with err.
func (a *Authenticator) staleRoles(t *roleTable, now int64, err error) (map[string]pihu.Permissions, uint64, error) {
	if t == nil || a.staleIfError <= 0 || pihu.ErrorCode(err) != pihu.EUnavailable {
		return nil, 0, err
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if !t.valid || now-t.loaded >= int64(a.ttl+a.staleIfError) {
		return nil, 0, err
	}
	return t.perms, 0, nil
}

// InvalidateRoles makes every cached key of account id resolve its
// rights again, from the account's roles read anew, at its next use, and,
// with Options.Invalidations, tells the other instances to do so too (as
// Invalidate does for a key). Call it after any change to a role of the
// account (its permissions, its deletion): the keys themselves are not
// read again.
func (a *Authenticator) InvalidateRoles(accountID string) {
	a.dropRoles(accountID)
	a.publish(rolesMessage + accountID)
}

// dropRoles forgets the roles of account id; a read of roles under way
// is not kept.
func (a *Authenticator) dropRoles(id string) {
	a.mu.Lock()
	a.roleEpoch++
	if ca := a.c.accounts[id]; ca != nil {
		ca.roles.valid = false
	}
	a.mu.Unlock()
}

// expireRoles makes every account's roles be read again at their next
// use, as setSubscribed does to keys: they may still answer stale, within
// StaleIfError. Write lock.
func (a *Authenticator) expireRoles(at int64) {
	a.roleEpoch++
	for _, ca := range a.c.accounts {
		if ca.roles.loaded > at {
			ca.roles.loaded = at
		}
	}
}

// heard handles a message of another instance (or of this one) on
// Options.Invalidations: the id of a key that changed, the account whose
// roles did, or an identity that did.
func (a *Authenticator) heard(msg string) {
	if id, ok := strings.CutPrefix(msg, rolesMessage); ok {
		a.dropRoles(id)
		return
	}
	if a.heardIdentity(msg) {
		return
	}
	a.drop(msg)
}
