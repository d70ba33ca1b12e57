package pihu_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// testNow is a creation time with nanoseconds and a zone other than UTC, so
// that a key's Created shows whether it was truncated and converted.
var testNow = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("IST", 5*3600+1800))

// testCreated is testNow as a key records it: to the second, in UTC.
var testCreated = time.Date(2025, 3, 14, 9, 39, 26, 0, time.UTC)

// newCreator returns a key that creates keys, as NewKey's creator.
func newCreator(tb testing.TB, env pihu.Environment, expires *time.Time, perms ...pihu.Permission) *pihu.Key {
	tb.Helper()
	return &pihu.Key{
		ID:          pihu.NewID(pihu.PrefixKey),
		AccountID:   "acct_1",
		Name:        "creator",
		Environment: env,
		Permissions: perms,
		Created:     testCreated.Add(-time.Hour),
		Expires:     expires,
	}
}

func TestNewKey(t *testing.T) {
	t.Run("Fields", func(t *testing.T) {
		perms := pihu.Permissions{"candidate:read", "interview:write", "candidate:read"}
		req := pihu.KeyRequest{Name: "CI deploy", Permissions: perms, Expiration: "30d", Environment: pihu.Test}
		k, secret, err := pihu.NewKey("acct_1", req, nil, testNow)
		assertNoError(t, err)

		if env, ok := pihu.ParseSecret(secret); !ok || env != pihu.Test {
			t.Errorf("ParseSecret(secret): got (%v, %v), want (test, true)", env, ok)
		}
		if !strings.HasPrefix(k.ID, "key_") {
			t.Errorf("ID: got %v, want prefix key_", k.ID)
		}
		if got, want := k.AccountID, "acct_1"; got != want {
			t.Errorf("AccountID: got %v, want %v", got, want)
		}
		if got, want := k.Name, "CI deploy"; got != want {
			t.Errorf("Name: got %v, want %v", got, want)
		}
		if got, want := k.Environment, pihu.Test; got != want {
			t.Errorf("Environment: got %v, want %v", got, want)
		}
		if got, want := k.Permissions, (pihu.Permissions{"candidate:read", "interview:write"}); !slices.Equal(got, want) {
			t.Errorf("Permissions: got %v, want %v", got, want)
		}
		if got, want := perms, (pihu.Permissions{"candidate:read", "interview:write", "candidate:read"}); !slices.Equal(got, want) {
			t.Errorf("caller's permissions: got %v, want %v (unchanged)", got, want)
		}
		if got, want := k.Digest, pihu.Digest(secret); !bytes.Equal(got, want) {
			t.Errorf("Digest: got %x, want %x", got, want)
		}
		if got, want := k.Hint, "ph_test_…"+secret[len(secret)-4:]; got != want {
			t.Errorf("Hint: got %v, want %v", got, want)
		}
		if k.LastUsed != nil || k.Revoked != nil || k.RotatedFrom != "" {
			t.Errorf("got LastUsed %v, Revoked %v, RotatedFrom %q, want none", k.LastUsed, k.Revoked, k.RotatedFrom)
		}
	})

	t.Run("Created", func(t *testing.T) {
		k, _, err := pihu.NewKey("acct_1", pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"*"}}, nil, testNow)
		assertNoError(t, err)
		if !k.Created.Equal(testCreated) || k.Created.Location() != time.UTC || k.Created.Nanosecond() != 0 {
			t.Errorf("Created: got %v, want %v", k.Created, testCreated)
		}
		if k.Expires != nil {
			t.Errorf("Expires: got %v, want nil", *k.Expires)
		}
	})

	t.Run("Expires", func(t *testing.T) {
		for _, tt := range []struct {
			expiration string
			d          time.Duration
		}{
			{"1m", time.Minute},
			{"90m", 90 * time.Minute},
			{"12h", 12 * time.Hour},
			{"1d", 24 * time.Hour},
			{"30d", 30 * 24 * time.Hour},
			{"2w", 14 * 24 * time.Hour},
			{"3650d", 3650 * 24 * time.Hour},
		} {
			t.Run(tt.expiration, func(t *testing.T) {
				req := pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"*"}, Expiration: tt.expiration}
				k, _, err := pihu.NewKey("acct_1", req, nil, testNow)
				assertNoError(t, err)
				if k.Expires == nil {
					t.Fatalf("Expires: got nil, want %v", testCreated.Add(tt.d))
				}
				if got, want := k.Expires.Sub(k.Created), tt.d; got != want {
					t.Errorf("Expires - Created: got %v, want %v", got, want)
				}
				if want := testCreated.Add(tt.d); *k.Expires != want {
					t.Errorf("Expires: got %v, want %v", *k.Expires, want)
				}
			})
		}
	})

	t.Run("Owner", func(t *testing.T) {
		k, _, err := pihu.NewKey("acct_1", pihu.OwnerKeyRequest(), nil, testNow)
		assertNoError(t, err)
		if k.Environment != pihu.Live || !slices.Equal(k.Permissions, pihu.Permissions{"*"}) || k.Expires != nil {
			t.Errorf("got %v %v %v, want live [*] never", k.Environment, k.Permissions, k.Expires)
		}
	})

	t.Run("SecretsDiffer", func(t *testing.T) {
		req := pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"*"}}
		a, sa, err := pihu.NewKey("acct_1", req, nil, testNow)
		assertNoError(t, err)
		b, sb, err := pihu.NewKey("acct_1", req, nil, testNow)
		assertNoError(t, err)
		if sa == sb || a.ID == b.ID || bytes.Equal(a.Digest, b.Digest) {
			t.Errorf("two keys: got the same secret, id or digest, want all different")
		}
	})
}

func TestKeyRequest_Validate(t *testing.T) {
	perms := pihu.Permissions{"candidate:read"}
	for _, tt := range []struct {
		name      string
		req       pihu.KeyRequest
		wantCode  string
		wantParam string
		wantPerms pihu.Permissions // when valid
	}{
		{name: "Valid", req: pihu.KeyRequest{Name: "k", Permissions: perms}, wantPerms: perms},
		{name: "ErrNameMissing", req: pihu.KeyRequest{Permissions: perms},
			wantCode: pihu.EParameterMissing, wantParam: "name"},
		{name: "Name100Runes", req: pihu.KeyRequest{Name: strings.Repeat("é", 100), Permissions: perms}, wantPerms: perms},
		{name: "Name100FourByteRunes", req: pihu.KeyRequest{Name: strings.Repeat("𝄞", 100), Permissions: perms}, wantPerms: perms},
		{name: "ErrName101Runes", req: pihu.KeyRequest{Name: strings.Repeat("é", 101), Permissions: perms},
			wantCode: pihu.EParameterInvalid, wantParam: "name"},
		{name: "ErrName101ASCII", req: pihu.KeyRequest{Name: strings.Repeat("a", 101), Permissions: perms},
			wantCode: pihu.EParameterInvalid, wantParam: "name"},
		{name: "NameWithJoiner", req: pihu.KeyRequest{Name: "👩\u200d💻 CI", Permissions: perms}, wantPerms: perms},
		{name: "NameWithAccent", req: pihu.KeyRequest{Name: "Cafe\u0301", Permissions: perms}, wantPerms: perms},
		{name: "ErrNameSpaces", req: pihu.KeyRequest{Name: " \t ", Permissions: perms},
			wantCode: pihu.EParameterInvalid, wantParam: "name"},
		{name: "ErrNameZeroWidthOnly", req: pihu.KeyRequest{Name: "\u200b\u200c\u200d\u2060\ufeff", Permissions: perms},
			wantCode: pihu.EParameterInvalid, wantParam: "name"},
		{name: "ErrNameHangulFiller", req: pihu.KeyRequest{Name: "\u3164\u3164", Permissions: perms},
			wantCode: pihu.EParameterInvalid, wantParam: "name"},
		{name: "ErrNameCombiningOnly", req: pihu.KeyRequest{Name: "\u0301\u0301", Permissions: perms},
			wantCode: pihu.EParameterInvalid, wantParam: "name"},
		{name: "ErrNameRightToLeftOverride", req: pihu.KeyRequest{Name: "invoice\u202Egpj.exe", Permissions: perms},
			wantCode: pihu.EParameterInvalid, wantParam: "name"},
		{name: "ErrNameIsolate", req: pihu.KeyRequest{Name: "prod \u2067key\u2069", Permissions: perms},
			wantCode: pihu.EParameterInvalid, wantParam: "name"},
		{name: "ErrNameRightToLeftMark", req: pihu.KeyRequest{Name: "key\u200f", Permissions: perms},
			wantCode: pihu.EParameterInvalid, wantParam: "name"},
		{name: "ErrNameNewline", req: pihu.KeyRequest{Name: "billing\nadmin", Permissions: perms},
			wantCode: pihu.EParameterInvalid, wantParam: "name"},
		{name: "ErrNameEscape", req: pihu.KeyRequest{Name: "billing\x1b[2J", Permissions: perms},
			wantCode: pihu.EParameterInvalid, wantParam: "name"},
		{name: "ErrNameC1Control", req: pihu.KeyRequest{Name: "billing\u009b", Permissions: perms},
			wantCode: pihu.EParameterInvalid, wantParam: "name"},
		{name: "ErrPermissionsMissing", req: pihu.KeyRequest{Name: "k"},
			wantCode: pihu.EParameterMissing, wantParam: "permissions"},
		{name: "ErrPermissionsEmpty", req: pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{}},
			wantCode: pihu.EParameterInvalid, wantParam: "permissions"},
		{name: "ErrPermissionUnknownAction", req: pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"candidate:read", "candidate:delete"}},
			wantCode: pihu.EParameterInvalid, wantParam: "permissions"},
		{name: "ErrPermissionUnknownResource", req: pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"foo:*"}},
			wantCode: pihu.EParameterInvalid, wantParam: "permissions"},
		{name: "ErrPermissionNoAction", req: pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"candidate"}},
			wantCode: pihu.EParameterInvalid, wantParam: "permissions"},
		{name: "ErrPermissionEmptyString", req: pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{""}},
			wantCode: pihu.EParameterInvalid, wantParam: "permissions"},
		{name: "DuplicatesRemoved",
			req:       pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"interview:read", "candidate:read", "interview:read", "*", "candidate:read"}},
			wantPerms: pihu.Permissions{"interview:read", "candidate:read", "*"}},
		{name: "ErrExpiration", req: pihu.KeyRequest{Name: "k", Permissions: perms, Expiration: "1y"},
			wantCode: pihu.EParameterInvalid, wantParam: "expiration"},
		{name: "ErrEnvironment", req: pihu.KeyRequest{Name: "k", Permissions: perms, Environment: "prod"},
			wantCode: pihu.EParameterInvalid, wantParam: "environment"},
		{name: "ErrEnvironmentCase", req: pihu.KeyRequest{Name: "k", Permissions: perms, Environment: "Live"},
			wantCode: pihu.EParameterInvalid, wantParam: "environment"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Through NewKey, which is how every caller validates.
			k, secret, err := pihu.NewKey("acct_1", tt.req, nil, testNow)
			if tt.wantCode != "" {
				assertError(t, err, tt.wantCode, tt.wantParam)
				if k != nil || secret != "" {
					t.Errorf("got key %v and secret %q with an error, want neither", k, secret)
				}
				return
			}
			assertNoError(t, err)
			if !slices.Equal(k.Permissions, tt.wantPerms) {
				t.Errorf("Permissions: got %v, want %v", k.Permissions, tt.wantPerms)
			}
		})
	}

	t.Run("DefaultEnvironment", func(t *testing.T) {
		for _, env := range []pihu.Environment{pihu.Live, pihu.Test} {
			r := pihu.KeyRequest{Name: "k", Permissions: perms}
			assertNoError(t, r.Validate(env))
			if r.Environment != env {
				t.Errorf("Validate(%v): got environment %v, want %v", env, r.Environment, env)
			}
		}
	})
}

func TestNewKey_Escalation(t *testing.T) {
	all := append(append(pihu.Permissions{}, pihu.Catalogue...), "*", "candidate:*", "interview:*", "api_key:*")
	for _, tt := range []struct {
		name         string
		creator      pihu.Permissions
		ask          pihu.Permissions
		wantRequired string // "" if allowed
	}{
		{"ReadCannotGiveWrite", pihu.Permissions{"candidate:read"}, pihu.Permissions{"candidate:write"}, "candidate:write"},
		{"ReadGivesRead", pihu.Permissions{"candidate:read"}, pihu.Permissions{"candidate:read"}, ""},
		{"ReadCannotGiveOtherResource", pihu.Permissions{"candidate:read"}, pihu.Permissions{"interview:read"}, "interview:read"},
		{"ReadCannotGiveResourceWildcard", pihu.Permissions{"candidate:read"}, pihu.Permissions{"candidate:*"}, "candidate:*"},
		{"FirstMissingIsRequired", pihu.Permissions{"candidate:read"}, pihu.Permissions{"candidate:read", "candidate:write", "interview:read"}, "candidate:write"},
		{"WriteGivesRead", pihu.Permissions{"candidate:write"}, pihu.Permissions{"candidate:read"}, ""},
		{"WriteGivesReadAndWrite", pihu.Permissions{"candidate:write"}, pihu.Permissions{"candidate:read", "candidate:write"}, ""},
		{"WriteCannotGiveResourceWildcard", pihu.Permissions{"candidate:write"}, pihu.Permissions{"candidate:*"}, "candidate:*"},
		{"VerifyCannotGiveRead", pihu.Permissions{"api_key:verify"}, pihu.Permissions{"api_key:read"}, "api_key:read"},
		{"ResourceWildcardGivesRead", pihu.Permissions{"candidate:*"}, pihu.Permissions{"candidate:read"}, ""},
		{"ResourceWildcardGivesWrite", pihu.Permissions{"candidate:*"}, pihu.Permissions{"candidate:write"}, ""},
		{"ResourceWildcardGivesItself", pihu.Permissions{"candidate:*"}, pihu.Permissions{"candidate:*"}, ""},
		{"ResourceWildcardCannotGiveWildcard", pihu.Permissions{"candidate:*"}, pihu.Permissions{"*"}, "*"},
		{"ResourceWildcardCannotGiveOtherResource", pihu.Permissions{"candidate:*"}, pihu.Permissions{"interview:read"}, "interview:read"},
		{"ApiKeyWildcardGivesVerify", pihu.Permissions{"api_key:*"}, pihu.Permissions{"api_key:verify", "api_key:write"}, ""},
		{"WildcardGivesEverything", pihu.Permissions{"*"}, all, ""},
		{"MixedCreator", pihu.Permissions{"candidate:read", "interview:write"}, pihu.Permissions{"candidate:read", "interview:read", "interview:write"}, ""},
		{"EveryConcreteCannotGiveWildcard", pihu.Catalogue, pihu.Permissions{"*"}, "*"},
		{"EveryConcreteCannotGiveResourceWildcard", pihu.Catalogue, pihu.Permissions{"interview:*"}, "interview:*"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			creator := newCreator(t, pihu.Live, nil, tt.creator...)
			req := pihu.KeyRequest{Name: "k", Permissions: tt.ask}
			k, _, err := pihu.NewKey("acct_1", req, creator, testNow)
			if tt.wantRequired == "" {
				assertNoError(t, err)
				if !slices.Equal(k.Permissions, tt.ask.Normalize()) {
					t.Errorf("Permissions: got %v, want %v", k.Permissions, tt.ask)
				}
				return
			}
			e := assertError(t, err, pihu.EInsufficientPermissions, "permissions")
			if e.Required != tt.wantRequired {
				t.Errorf("Required: got %v, want %v", e.Required, tt.wantRequired)
			}
			if !strings.Contains(e.Message, tt.wantRequired) {
				t.Errorf("Message: got %q, want it to name %q", e.Message, tt.wantRequired)
			}
		})
	}
}

func TestNewKey_Outliving(t *testing.T) {
	creatorExpires := testCreated.Add(10 * 24 * time.Hour)
	for _, tt := range []struct {
		name       string
		expiration string
		ok         bool
	}{
		{"ErrNever", "", false},
		{"Err11d", "11d", false},
		{"10dExactly", "10d", true},
		{"240hExactly", "240h", true},
		{"Err241h", "241h", false},
		{"14400mExactly", "14400m", true},
		{"Err14401m", "14401m", false},
		{"1w", "1w", true},
		{"Err2w", "2w", false},
		{"1m", "1m", true},
		{"Err3650d", "3650d", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			creator := newCreator(t, pihu.Live, &creatorExpires, "*")
			req := pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"candidate:read"}, Expiration: tt.expiration}
			k, _, err := pihu.NewKey("acct_1", req, creator, testNow)
			if tt.ok {
				assertNoError(t, err)
				if k.Expires == nil || k.Expires.After(creatorExpires) {
					t.Errorf("Expires: got %v, want no later than %v", k.Expires, creatorExpires)
				}
				return
			}
			e := assertError(t, err, pihu.EParameterInvalid, "expiration")
			if want := "2025-03-24T09:39:26Z"; !strings.Contains(e.Message, want) {
				t.Errorf("Message: got %q, want it to name %v", e.Message, want)
			}
		})
	}

	t.Run("CreatorExpiryInOtherZone", func(t *testing.T) {
		// The message gives the instant in UTC, as the API shows times.
		exp := creatorExpires.In(time.FixedZone("PDT", -7*3600))
		creator := newCreator(t, pihu.Live, &exp, "*")
		req := pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"*"}, Expiration: "11d"}
		_, _, err := pihu.NewKey("acct_1", req, creator, testNow)
		e := assertError(t, err, pihu.EParameterInvalid, "expiration")
		if want := creatorExpires.Format(time.RFC3339); !strings.Contains(e.Message, want) {
			t.Errorf("Message: got %q, want it to name %v", e.Message, want)
		}
	})

	t.Run("CreatorNeverExpires", func(t *testing.T) {
		creator := newCreator(t, pihu.Live, nil, "*")
		for _, expiration := range []string{"", "3650d"} {
			req := pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"*"}, Expiration: expiration}
			_, _, err := pihu.NewKey("acct_1", req, creator, testNow)
			assertNoError(t, err)
		}
	})
}

func TestNewKey_Environment(t *testing.T) {
	for _, tt := range []struct {
		name    string
		creator pihu.Environment // "" for no creator (the operator)
		ask     pihu.Environment
		want    pihu.Environment // "" for EInsufficientPermissions
	}{
		{"LiveCreatesLive", pihu.Live, pihu.Live, pihu.Live},
		{"LiveCreatesTest", pihu.Live, pihu.Test, pihu.Test},
		{"LiveDefaultsToLive", pihu.Live, "", pihu.Live},
		{"TestCreatesTest", pihu.Test, pihu.Test, pihu.Test},
		{"TestDefaultsToTest", pihu.Test, "", pihu.Test},
		{"ErrTestCreatesLive", pihu.Test, pihu.Live, ""},
		{"OperatorDefaultsToLive", "", "", pihu.Live},
		{"OperatorCreatesTest", "", pihu.Test, pihu.Test},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var creator *pihu.Key
			if tt.creator != "" {
				creator = newCreator(t, tt.creator, nil, "*")
			}
			req := pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"candidate:read"}, Environment: tt.ask}
			k, secret, err := pihu.NewKey("acct_1", req, creator, testNow)
			if tt.want == "" {
				assertError(t, err, pihu.EInsufficientPermissions, "environment")
				return
			}
			assertNoError(t, err)
			if k.Environment != tt.want {
				t.Errorf("Environment: got %v, want %v", k.Environment, tt.want)
			}
			if env, _ := pihu.ParseSecret(secret); env != tt.want {
				t.Errorf("secret's environment: got %v, want %v", env, tt.want)
			}
		})
	}
}
