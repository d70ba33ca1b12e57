package sqlite_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// TestIdempotency_NoSecretInFile stores the replayable response of a key
// creation and checks that no file of the database (the WAL included)
// holds the secret or the Idempotency-Key value, before and after a
// checkpoint.
func TestIdempotency_NoSecretInFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pihu.db")
	db := mustOpen(t, path)
	secret := pihu.NewSecret(pihu.Live)
	const value = "c0ffee00-retry-of-the-deploy-key"
	k, err := pihu.NewIdempotencyKey("key:key_owner", value)
	if err != nil {
		t.Fatal(err)
	}
	rec := &pihu.IdempotencyRecord{
		Lookup:      k.Lookup(),
		Fingerprint: k.Fingerprint("POST", "/v1/auth/api-keys", []byte(`{"name":"Deploy","permissions":["*"]}`)),
		Token:       pihu.NewID(pihu.PrefixRequest),
		Created:     time.Now(),
	}
	if existing, err := db.ReserveIdempotency(t.Context(), rec); err != nil || existing != nil {
		t.Fatalf("ReserveIdempotency: got %v, %v", existing, err)
	}
	body := []byte(`{"id":"key_1","name":"Deploy","key":"` + secret + `"}`)
	rec.Status = 200
	if rec.Response, err = k.Seal(rec.Status, pihu.IdempotentResponse{Body: body}); err != nil {
		t.Fatal(err)
	}
	if err := db.CompleteIdempotency(t.Context(), rec); err != nil {
		t.Fatalf("CompleteIdempotency: %v", err)
	}

	check := func(when string) {
		t.Helper()
		files, _ := filepath.Glob(path + "*")
		if len(files) == 0 {
			t.Fatal("no database file")
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, clear := range []string{secret[len("ph_live_"):], value, "Deploy"} {
				if bytes.Contains(b, []byte(clear)) {
					t.Errorf("%s: %s holds %q in clear", when, filepath.Base(f), clear)
				}
			}
		}
	}
	check("before closing")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	check("after closing")
}
