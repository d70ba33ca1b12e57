package main_test

import (
	"testing"
	"time"

	"github.com/pihu-ai/pihu/internal/redistest"
	"github.com/pihu-ai/pihu/postgres/postgrestest"
)

// TestServe_CreditsCrash: an instance that spends a key's credits from a
// lease is killed (SIGKILL: no give-back); another instance, started
// with a short --credit-lease-ttl, gives back what the dead one's lease
// recorded once it expires. The key ends with what it had less what was
// admitted, less at most one tranche of the lease (a tenth of it), and
// never more than that. Here the second instance runs without Redis, so
// takes no lease itself: every instance sweeps.
func TestServe_CreditsCrash(t *testing.T) {
	creditsCrash(t, false)
}

// TestServe_CreditsCrashPostgres is TestServe_CreditsCrash on PostgreSQL,
// the second instance on Redis too (leasing, as the first).
func TestServe_CreditsCrashPostgres(t *testing.T) {
	creditsCrash(t, true, "--database", postgrestest.NewSchema(t))
}

// creditsCrash runs TestServe_CreditsCrash on the database args give,
// the second instance with Redis if redis.
func creditsCrash(t *testing.T, redis bool, args ...string) {
	rs := redistest.Start(t)
	dir := t.TempDir()
	one := startServer(t, dir, append([]string{"--redis", rs.URL(), "--credit-lease-ttl", "2s"}, args...)...)
	owner := ownerKey(t, one)
	const initial = 100_000
	id, secret := createKey(t, one, owner, `{"name":"metered","permissions":["candidate:read"],"remaining":100000}`)
	time.Sleep(time.Second) // leases are not taken in the second the balance was set
	const spent = 500
	for i := range spent {
		if code := status(t, one.url, "/v1/auth/whoami", secret); code != 200 {
			t.Fatalf("request %d: got %d", i+1, code)
		}
	}
	// The first request is spent exactly, the second takes a lease of 2%
	// of the 99,999 left: 1,999, in tranches of 200.
	const lease = (initial - 1) / 50
	const tranche = (lease + 9) / 10
	if got := remainingOf(t, one, owner, id); got != initial-2-lease {
		t.Fatalf("the database's balance while the lease is held: got %d, want %d", got, initial-2-lease)
	}
	one.cmd.Process.Kill()
	err := <-one.done
	one.done <- err // for the cleanup
	second := append([]string{"--credit-lease-ttl", "1s"}, args...)
	if redis {
		second = append(second, "--redis", rs.URL())
	}
	two := startServer(t, dir, second...)
	want := int64(initial - spent)
	start := time.Now()
	var got int64
	for {
		got = remainingOf(t, two, owner, id)
		if got > want {
			t.Fatalf("after the crash: %d left, more than the %d the %d admitted requests left: a credit spent twice", got, want, spent)
		}
		if got >= want-tranche || time.Since(start) > 15*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the dead instance's lease came back %v after the second instance started: %d left, %d lost (a tranche is %d)",
		time.Since(start).Round(100*time.Millisecond), got, want-got, tranche)
	if got < want-tranche {
		t.Fatalf("15 s after the crash: %d left, want %d less at most one tranche (%d)", got, want, tranche)
	}
	// Given back once: it stays there.
	time.Sleep(2 * time.Second)
	if again := remainingOf(t, two, owner, id); again != got {
		t.Errorf("2 s later: %d left, want still %d", again, got)
	}
}
