package pihu_test

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func TestValidIdempotencyKey(t *testing.T) {
	for _, v := range []string{"a", "5b0b9bc2-7c1e-4d2a-9f39-5d2f3ef1a001", "order 42/retry:1 ~!", strings.Repeat("k", 255)} {
		if err := pihu.ValidIdempotencyKey(v); err != nil {
			t.Errorf("ValidIdempotencyKey(%q): got %v, want nil", v, err)
		}
	}
	for _, v := range []string{"", strings.Repeat("k", 256), "clé", "a\tb", "a\nb", "a\x7fb", "a\x00"} {
		err := pihu.ValidIdempotencyKey(v)
		if pihu.ErrorCode(err) != pihu.EParameterInvalid {
			t.Errorf("ValidIdempotencyKey(%q): got %v, want %v", v, err, pihu.EParameterInvalid)
			continue
		}
		if e := err.(*pihu.Error); e.Param != "Idempotency-Key" || strings.Contains(e.Message, v) && v != "" {
			t.Errorf("ValidIdempotencyKey(%q): got param %q, message %q; want Idempotency-Key, without the value", v, e.Param, e.Message)
		}
	}
}

func mustIdempotencyKey(tb testing.TB, scope, value string) *pihu.IdempotencyKey {
	tb.Helper()
	k, err := pihu.NewIdempotencyKey(scope, value)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// TestIdempotencyKey_Separation checks that a value's lookup, fingerprint
// and sealing depend on the scope, and that none of them is a plain hash
// of the value.
func TestIdempotencyKey_Separation(t *testing.T) {
	a := mustIdempotencyKey(t, "key:key_a", "v")
	if !bytes.Equal(a.Lookup(), mustIdempotencyKey(t, "key:key_a", "v").Lookup()) {
		t.Error("Lookup is not deterministic")
	}
	plain := sha256.Sum256([]byte("v"))
	for name, other := range map[string]*pihu.IdempotencyKey{
		"scope":    mustIdempotencyKey(t, "key:key_b", "v"),
		"value":    mustIdempotencyKey(t, "key:key_a", "w"),
		"boundary": mustIdempotencyKey(t, "key:key_", "av"),
	} {
		if bytes.Equal(a.Lookup(), other.Lookup()) {
			t.Errorf("another %s has the same Lookup", name)
		}
		if bytes.Equal(a.Fingerprint("POST", "/p", nil), other.Fingerprint("POST", "/p", nil)) {
			t.Errorf("another %s has the same Fingerprint", name)
		}
		sealed, err := a.Seal(200, pihu.IdempotentResponse{Body: []byte("{}")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Open(200, sealed); err == nil {
			t.Errorf("another %s opens the sealed response", name)
		}
	}
	if bytes.Equal(a.Lookup(), plain[:]) {
		t.Error("Lookup is the plain SHA-256 of the value")
	}
	fp := a.Fingerprint("POST", "/v1/candidates", []byte(`{"a":1}`))
	for _, other := range [][]byte{
		a.Fingerprint("PUT", "/v1/candidates", []byte(`{"a":1}`)),
		a.Fingerprint("POST", "/v1/interviews", []byte(`{"a":1}`)),
		a.Fingerprint("POST", "/v1/candidates", []byte(`{"a":2}`)),
		a.Fingerprint("POST", "/v1/candidates{", []byte(`"a":1}`)),
	} {
		if bytes.Equal(fp, other) {
			t.Error("two requests have one fingerprint")
		}
	}
}

func TestIdempotencyKey_Seal(t *testing.T) {
	k := mustIdempotencyKey(t, "key:key_a", "v")
	secret := pihu.NewSecret(pihu.Live)
	resp := pihu.IdempotentResponse{Header: map[string]string{"Content-Type": "application/json"}, Body: []byte(`{"key":"` + secret + `"}`)}
	sealed, err := k.Seal(200, resp)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := k.Seal(200, resp)
	if bytes.Contains(sealed, []byte(secret[8:])) || bytes.Equal(sealed, again) {
		t.Errorf("sealed: holds the secret, or two seals are equal (no random nonce)")
	}
	got, err := k.Open(200, sealed)
	if err != nil || !bytes.Equal(got.Body, resp.Body) || got.Header["Content-Type"] != "application/json" {
		t.Fatalf("Open: got %+v, %v", got, err)
	}
	if _, err := k.Open(400, sealed); err == nil {
		t.Error("Open with another status: got nil, want an error")
	}
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 1
		if _, err := k.Open(200, tampered); err == nil {
			t.Fatalf("Open of a response changed at byte %d: got nil, want an error", i)
		}
	}
	if _, err := k.Open(200, sealed[:5]); err == nil {
		t.Error("Open of a short response: got nil, want an error")
	}
}

func TestKeyEnd_Matches(t *testing.T) {
	at := testNow
	other := at.Add(time.Second)
	revoked := &pihu.KeyEnd{Revoked: &at}
	shortened := &pihu.KeyEnd{Expires: &at}
	for _, tt := range []struct {
		name string
		end  *pihu.KeyEnd
		key  pihu.Key
		want bool
	}{
		{"RevokedByTheRequest", revoked, pihu.Key{Revoked: &at}, true},
		{"RevokedAtAnotherTime", revoked, pihu.Key{Revoked: &other}, false},
		{"Shortened", shortened, pihu.Key{Expires: &at}, true},
		{"ShortenedThenRevoked", shortened, pihu.Key{Expires: &at, Revoked: &other}, false},
		{"ShortenedThenChanged", shortened, pihu.Key{Expires: &other}, false},
		{"None", nil, pihu.Key{Revoked: &at}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.end.Matches(&tt.key); got != tt.want {
				t.Errorf("Matches: got %v, want %v", got, tt.want)
			}
		})
	}
}
