package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id costs of new password hashes. Each hash
// records its own, so that raising them later leaves old hashes readable.
type PasswordParams struct {
	// Memory is in KiB.
	Memory  uint32
	Time    uint32
	Threads uint8
}

// DefaultPasswordParams are OWASP's recommended argon2id costs: 19 MiB of
// memory, 2 passes, 1 thread.
var DefaultPasswordParams = PasswordParams{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLength = 16
	hashLength = 32
	// maxMemory bounds the memory a stored hash may ask to verify it
	// (1 GiB), so that a tampered row cannot exhaust the server.
	maxMemory = 1 << 20
	maxTime   = 16
)

var b64 = base64.RawStdEncoding

// HashPassword returns the argon2id hash of password with a new random salt,
// in the PHC string form "$argon2id$v=19$m=…,t=…,p=…$salt$hash".
func HashPassword(password string, p PasswordParams) string {
	salt := make([]byte, saltLength)
	rand.Read(salt)
	sum := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, hashLength)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(sum))
}

// CheckPassword reports whether password matches hash, a string made by
// HashPassword, comparing in constant time. A malformed hash matches
// nothing.
func CheckPassword(password, hash string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var p PasswordParams
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || n != 3 {
		return false
	}
	if p.Memory < 8 || p.Memory > maxMemory || p.Time < 1 || p.Time > maxTime || p.Threads < 1 {
		return false
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// errBusy is the answer of a password hash that could not start: as many
// as Options.PasswordHashes are running and as many as may wait are
// waiting for them, or the wait was too long.
var errBusy = errors.New("web: too many password hashes at once")

// hashWait is how long a password hash waits for one of the running ones
// to end before it is refused with errBusy.
const hashWait = time.Second

// passwords hashes and checks passwords with argon2id, a bounded number at
// a time for the whole dashboard. Each hash takes PasswordParams.Memory
// (19 MiB by default) for as long as it runs, so that a burst of sign-ins
// left to run at once would take memory without limit; here at most
// `running`'s capacity run, a few more wait up to hashWait for one of
// them (see waiting), and the rest are refused at once (errBusy), which the handlers
// answer 503 with Retry-After. Every path that hashes a password goes
// through it: sign-in, sign-up, password change, setup and invites.
type passwords struct {
	params PasswordParams
	// running holds a token per hash running; admitted one per hash
	// running or waiting to run.
	running, admitted chan struct{}
}

// waiting is how many hashes may wait for one of concurrency running
// ones: a waiting one takes no memory beyond its request's, and one of
// these runs, at the default costs, within about a second.
func waiting(concurrency int) int { return 8 * concurrency }

func newPasswords(p PasswordParams, concurrency int) *passwords {
	return &passwords{params: p, running: make(chan struct{}, concurrency), admitted: make(chan struct{}, concurrency+waiting(concurrency))}
}

// acquire waits for a hash to be allowed to run, and returns the function
// that ends it. Returns errBusy when too many are running and waiting, or
// when none ended within hashWait, and ctx's error if it ends first.
func (p *passwords) acquire(ctx context.Context) (release func(), err error) {
	select {
	case p.admitted <- struct{}{}:
	default:
		return nil, errBusy
	}
	select {
	case p.running <- struct{}{}:
		return func() { <-p.running; <-p.admitted }, nil
	default:
	}
	t := time.NewTimer(hashWait)
	defer t.Stop()
	select {
	case p.running <- struct{}{}:
		return func() { <-p.running; <-p.admitted }, nil
	case <-t.C:
		err = errBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	<-p.admitted
	return nil, err
}

// hash is HashPassword under the bound.
func (p *passwords) hash(ctx context.Context, password string) (string, error) {
	release, err := p.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(password, p.params), nil
}

// check is CheckPassword under the bound.
func (p *passwords) check(ctx context.Context, password, hash string) (bool, error) {
	release, err := p.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return CheckPassword(password, hash), nil
}
