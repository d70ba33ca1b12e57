package auth

import "strings"

// A key's identity (pihu.Key.Identity: its external_id, metadata and the
// rate limit its keys share) is read with the key and cached with it, so
// that whoami, verify and the gateway doors answer with it, and the
// admission keys its shared limit, without a read. The cached keys of one
// identity share an entry (identEntry) that InvalidateIdentity marks
// stale: each of them is read again, with the identity as it is now, at
// its next use. An identity has few keys and changes rarely, so this
// costs a read a key of the identity, once, and keeps identities out of
// the hot path's lookups.

// IdentityMessage starts the message of Options.Invalidations that tells
// the instances that an identity changed ("identity:idt_…"); any other
// message is a key id or rolesMessage's. What follows it is the id under
// which the identity's shared limit and credits are leased.
const IdentityMessage = "identity:"

// InvalidateIdentity makes every cached key of identity id be read again
// at its next use, and, with Options.Invalidations, tells the other
// instances to do so too (as Invalidate does for a key). Call it after
// any change to the identity (its external_id, metadata or rate limit).
func (a *Authenticator) InvalidateIdentity(id string) {
	a.dropIdentity(id)
	a.publish(IdentityMessage + id)
}

// dropIdentity marks the cached keys of identity id stale; a read of one
// under way is not kept.
func (a *Authenticator) dropIdentity(id string) {
	a.mu.Lock()
	a.invalidations++
	if e := a.c.idents[id]; e != nil {
		e.stale = true
		delete(a.c.idents, id)
	}
	a.mu.Unlock()
}

// heardIdentity handles msg if it names an identity, and reports whether
// it did.
func (a *Authenticator) heardIdentity(msg string) bool {
	id, ok := strings.CutPrefix(msg, IdentityMessage)
	if ok {
		a.dropIdentity(id)
	}
	return ok
}
