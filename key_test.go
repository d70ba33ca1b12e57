package pihu_test

import (
	"bytes"
	"crypto/sha256"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func TestNewSecret(t *testing.T) {
	for _, tt := range []struct {
		env    pihu.Environment
		prefix string
	}{
		{pihu.Live, "ph_live_"},
		{pihu.Test, "ph_test_"},
	} {
		t.Run(string(tt.env), func(t *testing.T) {
			if got := pihu.SecretPrefix(tt.env); got != tt.prefix {
				t.Errorf("SecretPrefix: got %v, want %v", got, tt.prefix)
			}
			s := pihu.NewSecret(tt.env)
			body, ok := strings.CutPrefix(s, tt.prefix)
			if !ok {
				t.Fatalf("got %q, want prefix %q", s, tt.prefix)
			}
			if len(body) < 40 {
				t.Errorf("body length: got %v, want at least 40", len(body))
			}
			if !isBase62(body) {
				t.Errorf("body %q: got a character outside [0-9A-Za-z], want base62 only", body)
			}
			// 32 random bytes need 43 base62 digits; then 6 of checksum.
			if got, want := len(body), 43+6; got != want {
				t.Fatalf("body length: got %v, want %v", got, want)
			}
			random, sum := body[:43], body[43:]
			n := new(big.Int)
			for _, c := range []byte(random) {
				n.Mul(n, big.NewInt(62))
				n.Add(n, big.NewInt(int64(strings.IndexByte(refAlphabet, c))))
			}
			if n.BitLen() > 256 {
				t.Errorf("random part: got %v bits, want at most 256 (32 bytes)", n.BitLen())
			}
			if want := refChecksum(s[:len(s)-6]); sum != want {
				t.Errorf("checksum: got %v, want %v", sum, want)
			}
			env, ok := pihu.ParseSecret(s)
			if !ok || env != tt.env {
				t.Errorf("ParseSecret: got (%v, %v), want (%v, true)", env, ok, tt.env)
			}
		})
	}

	t.Run("Unique", func(t *testing.T) {
		seen := make(map[string]bool)
		for range 1000 {
			s := pihu.NewSecret(pihu.Live)
			if seen[s] {
				t.Fatalf("got %q twice, want every secret new", s)
			}
			seen[s] = true
		}
	})

	t.Run("RandomPartVaries", func(t *testing.T) {
		// Every one of the 43 positions of the random part takes more than
		// one value over many secrets, except possibly the first (a 256-bit
		// number's leading base62 digit is small): nothing is constant.
		const n = 200
		seen := make([]map[byte]bool, 43)
		for i := range seen {
			seen[i] = make(map[byte]bool)
		}
		for range n {
			s := pihu.NewSecret(pihu.Test)[len("ph_test_"):]
			for i := range 43 {
				seen[i][s[i]] = true
			}
		}
		for i := 1; i < 43; i++ {
			if len(seen[i]) < 2 {
				t.Errorf("position %d: got %v distinct characters in %d secrets, want several", i, len(seen[i]), n)
			}
		}
	})
}

func TestParseSecret(t *testing.T) {
	live := pihu.NewSecret(pihu.Live)
	test := pihu.NewSecret(pihu.Test)
	random := live[len("ph_live_") : len(live)-6] // 43 base62 characters

	t.Run("Accepts", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			s    string
			env  pihu.Environment
		}{
			{"Live", live, pihu.Live},
			{"Test", test, pihu.Test},
			{"ShortestBody", withChecksum("ph_live_" + strings.Repeat("a", 34)), pihu.Live},
			{"LongerBody", withChecksum("ph_test_" + random + random), pihu.Test},
			{"AllZero", withChecksum("ph_live_" + strings.Repeat("0", 43)), pihu.Live},
		} {
			t.Run(tt.name, func(t *testing.T) {
				env, ok := pihu.ParseSecret(tt.s)
				if !ok || env != tt.env {
					t.Errorf("ParseSecret(%q): got (%v, %v), want (%v, true)", tt.s, env, ok, tt.env)
				}
			})
		}
	})

	t.Run("Rejects", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			s    string
		}{
			{"Empty", ""},
			{"LivePrefixAlone", "ph_live_"},
			{"TestPrefixAlone", "ph_test_"},
			{"PrefixAndChecksumOnly", withChecksum("ph_live_")},
			{"WrongEnvironment", withChecksum("ph_prod_" + random)},
			{"UpperCasePrefix", withChecksum("PH_LIVE_" + random)},
			{"OtherVendor", withChecksum("sk_live_" + random)},
			{"NoUnderscore", withChecksum("ph_live" + random)},
			{"NoPrefix", withChecksum(random)},
			{"ShortBody39", withChecksum("ph_live_" + strings.Repeat("a", 33))},
			{"ShortBody1", withChecksum("ph_live_" + "a")},
			{"Dash", withChecksum("ph_live_" + random[:20] + "-" + random[21:])},
			{"Underscore", withChecksum("ph_live_" + random[:20] + "_" + random[21:])},
			{"Space", withChecksum("ph_live_" + random[:20] + " " + random[21:])},
			{"NUL", withChecksum("ph_live_" + random[:20] + "\x00" + random[21:])},
			{"NonASCII", withChecksum("ph_live_" + random[:20] + "é" + random[22:])},
			{"LeadingSpace", " " + live},
			{"TrailingNewline", live + "\n"},
			{"Doubled", live + live},
			{"ChecksumOfOtherKey", live[:len(live)-6] + test[len(test)-6:]},
			{"EnvironmentSwapped", "ph_test_" + live[len("ph_live_"):]},
			{"Huge", withChecksum("ph_live_" + strings.Repeat("a", 1<<20))},
			{"HugeGarbage", strings.Repeat("ph_live_", 1<<16)},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if env, ok := pihu.ParseSecret(tt.s); ok || env != "" {
					t.Errorf("ParseSecret(%.80q): got (%v, %v), want (\"\", false)", tt.s, env, ok)
				}
			})
		}
	})

	t.Run("OneCharacterChanged", func(t *testing.T) {
		// The checksum catches every single-character change after the
		// prefix, to any other base62 character: a CRC detects every error
		// burst of up to 32 bits, and a change in the checksum itself
		// mismatches by construction.
		for i := len("ph_live_"); i < len(live); i++ {
			for j := 0; j < len(refAlphabet); j++ {
				c := refAlphabet[j]
				if c == live[i] {
					continue
				}
				s := live[:i] + string(c) + live[i+1:]
				if _, ok := pihu.ParseSecret(s); ok {
					t.Fatalf("ParseSecret(%q) (position %d changed to %q): got ok, want rejected", s, i, c)
				}
			}
		}
	})
}

// FuzzParseSecret checks that ParseSecret never panics, and that it accepts a
// string exactly when the string is a well-formed key: "ph_live_" or
// "ph_test_", a base62 body of at least 40 characters, whose last 6 are the
// base62 CRC32 (IEEE) of everything before them. (Bodies longer than 256
// characters may be rejected as too long to be a key.)
func FuzzParseSecret(f *testing.F) {
	f.Add(pihu.NewSecret(pihu.Live))
	f.Add(pihu.NewSecret(pihu.Test))
	f.Add("ph_live_0000000000000000000000000000000000000000000000000")
	f.Add(withChecksum("ph_live_" + strings.Repeat("a", 34)))
	f.Add(withChecksum("ph_live_" + strings.Repeat("a", 33)))
	f.Add(withChecksum("ph_prod_" + strings.Repeat("Z", 43)))
	f.Add("ph_live_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		env, ok := pihu.ParseSecret(s)

		var wantEnv pihu.Environment
		var body string
		switch {
		case strings.HasPrefix(s, "ph_live_"):
			wantEnv, body = pihu.Live, s[len("ph_live_"):]
		case strings.HasPrefix(s, "ph_test_"):
			wantEnv, body = pihu.Test, s[len("ph_test_"):]
		}
		wellFormed := wantEnv != "" && len(body) >= 40 && isBase62(body) &&
			s[len(s)-6:] == refChecksum(s[:len(s)-6])

		if ok {
			if !wellFormed {
				t.Fatalf("ParseSecret(%q): got accepted, want rejected (not a well-formed key)", s)
			}
			if env != wantEnv {
				t.Fatalf("ParseSecret(%q): got environment %v, want %v", s, env, wantEnv)
			}
			return
		}
		if env != "" {
			t.Fatalf("ParseSecret(%q): got environment %q with ok false, want \"\"", s, env)
		}
		if wellFormed && len(body) <= 256 {
			t.Fatalf("ParseSecret(%q): got rejected, want accepted (a well-formed key)", s)
		}
	})
}

func TestDigest(t *testing.T) {
	a, b := pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Live)
	for _, s := range []string{a, b, "", "ph_test_x"} {
		got := pihu.Digest(s)
		want := sha256.Sum256([]byte(s))
		if len(got) != 32 {
			t.Errorf("len(Digest(%q)): got %v, want 32", s, len(got))
		}
		if !bytes.Equal(got, want[:]) {
			t.Errorf("Digest(%q): got %x, want %x", s, got, want)
		}
	}
	if bytes.Equal(pihu.Digest(a), pihu.Digest(b)) {
		t.Errorf("Digest of two secrets: got equal, want different")
	}
}

func TestHint(t *testing.T) {
	for _, env := range []pihu.Environment{pihu.Live, pihu.Test} {
		t.Run(string(env), func(t *testing.T) {
			s := pihu.NewSecret(env)
			want := "ph_" + string(env) + "_…" + s[len(s)-4:]
			if got := pihu.Hint(s); got != want {
				t.Errorf("Hint: got %v, want %v", got, want)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	for _, prefix := range []string{
		pihu.PrefixAccount, pihu.PrefixKey, pihu.PrefixCandidate, pihu.PrefixInterview,
		pihu.PrefixEvent, pihu.PrefixRequest, pihu.PrefixUser,
	} {
		t.Run(prefix, func(t *testing.T) {
			seen := make(map[string]bool)
			for range 1000 {
				id := pihu.NewID(prefix)
				rest, ok := strings.CutPrefix(id, prefix)
				if !ok {
					t.Fatalf("got %q, want prefix %q", id, prefix)
				}
				if len(rest) != 22 || !isBase62(rest) {
					t.Fatalf("got %q, want %q and 22 base62 characters", id, prefix)
				}
				if seen[id] {
					t.Fatalf("got %q twice, want unique ids", id)
				}
				seen[id] = true
			}
		})
	}
	if got, want := pihu.PrefixKey, "key_"; got != want {
		t.Errorf("PrefixKey: got %v, want %v", got, want)
	}
	if got, want := pihu.PrefixAccount, "acct_"; got != want {
		t.Errorf("PrefixAccount: got %v, want %v", got, want)
	}
}

// AppendID appends to what its buffer holds, an id of NewID's form, in
// the buffer's own memory when it has room; AppendRequestID too.
func TestAppendID(t *testing.T) {
	var mem [64]byte
	buf := append(mem[:0], "line "...)
	got := pihu.AppendID(buf, pihu.PrefixRequest)
	rest, ok := strings.CutPrefix(string(got), "line "+pihu.PrefixRequest)
	if !ok || len(rest) != 22 || !isBase62(rest) {
		t.Fatalf("got %q, want \"line req_\" and 22 base62 characters", got)
	}
	if &got[0] != &mem[0] {
		t.Error("AppendID reallocated a buffer with room for the id")
	}
	if again := pihu.AppendID(nil, pihu.PrefixRequest); string(again) == string(got[5:]) {
		t.Errorf("got %q twice, want a new id each call", again)
	}
	seen := make(map[string]bool)
	for range 1000 {
		id := string(pihu.AppendRequestID(nil))
		rest, ok := strings.CutPrefix(id, pihu.PrefixRequest)
		if !ok || len(rest) != 22 || !isBase62(rest) || seen[id] {
			t.Fatalf("AppendRequestID: got %q, want a new \"req_\" and 22 base62 characters", id)
		}
		seen[id] = true
	}
}

func TestTimestamp(t *testing.T) {
	zone := time.FixedZone("IST", 5*3600+1800)
	in := time.Date(2025, 3, 14, 15, 9, 26, 535897932, zone)
	got := pihu.Timestamp(in)
	want := time.Date(2025, 3, 14, 9, 39, 26, 0, time.UTC)
	if !got.Equal(want) || got.Location() != time.UTC || got.Nanosecond() != 0 {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestKey_Active(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	for _, tt := range []struct {
		name     string
		expires  *time.Time
		revoked  *time.Time
		wantOK   bool
		wantCode string
	}{
		{"NeverExpires", nil, nil, true, ""},
		{"ExpiresLater", at(time.Second), nil, true, ""},
		{"ExpiresNow", at(0), nil, false, pihu.EExpiredAPIKey},
		{"Expired", at(-time.Second), nil, false, pihu.EExpiredAPIKey},
		{"ExpiredLongAgo", at(-365 * 24 * time.Hour), nil, false, pihu.EExpiredAPIKey},
		{"RevokedNow", nil, at(0), false, pihu.ERevokedAPIKey},
		{"Revoked", nil, at(-time.Hour), false, pihu.ERevokedAPIKey},
		{"RevokedLater", nil, at(time.Hour), true, ""},
		{"RevokedAndExpired", at(-time.Hour), at(-time.Minute), false, pihu.ERevokedAPIKey},
		{"RevokedBeforeExpiry", at(time.Hour), at(-time.Minute), false, pihu.ERevokedAPIKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := &pihu.Key{Expires: tt.expires, Revoked: tt.revoked}
			ok, code := k.Active(now)
			if ok != tt.wantOK || code != tt.wantCode {
				t.Errorf("got (%v, %q), want (%v, %q)", ok, code, tt.wantOK, tt.wantCode)
			}
		})
	}
	t.Run("OtherZone", func(t *testing.T) {
		// Expiry is an instant: a "now" given in another zone compares the
		// same.
		k := &pihu.Key{Expires: at(0)}
		if ok, code := k.Active(now.In(time.FixedZone("X", -7*3600))); ok {
			t.Errorf("got (%v, %q), want (false, %q)", ok, code, pihu.EExpiredAPIKey)
		}
	})
}

func TestEnvironment(t *testing.T) {
	for _, tt := range []struct {
		env   pihu.Environment
		valid bool
	}{
		{pihu.Live, true}, {pihu.Test, true}, {"", false}, {"prod", false}, {"LIVE", false}, {"live ", false},
	} {
		if got := tt.env.Valid(); got != tt.valid {
			t.Errorf("Environment(%q).Valid(): got %v, want %v", tt.env, got, tt.valid)
		}
	}
	for _, tt := range []struct {
		from, to pihu.Environment
		want     bool
	}{
		{pihu.Live, pihu.Live, true},
		{pihu.Live, pihu.Test, true},
		{pihu.Test, pihu.Test, true},
		{pihu.Test, pihu.Live, false},
	} {
		if got := tt.from.CanUse(tt.to); got != tt.want {
			t.Errorf("%v.CanUse(%v): got %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}
