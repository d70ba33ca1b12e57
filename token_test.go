package pihu_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func TestNewAccessToken(t *testing.T) {
	now := time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)
	inAnHour := now.Add(time.Hour)
	in10m := now.Add(10 * time.Minute)
	parent := &pihu.Key{ID: "key_p", AccountID: "acct_a", Environment: pihu.Test, Permissions: pihu.Permissions{"candidate:*", "token:write"}, Expires: &inAnHour}
	brief := *parent
	brief.Expires = &in10m
	const iss = "https://auth.example.com"

	t.Run("Defaults", func(t *testing.T) {
		at, err := pihu.NewAccessToken(parent, pihu.TokenRequest{}, iss, now)
		if err != nil {
			t.Fatal(err)
		}
		if at.KeyID != "key_p" || at.AccountID != "acct_a" || at.Environment != pihu.Test || at.Issuer != iss || at.Audience != iss ||
			!slices.Equal(at.Permissions, parent.Permissions) || !at.Issued.Equal(now) || !at.Expires.Equal(now.Add(15*time.Minute)) || !strings.HasPrefix(at.ID, "tok_") {
			t.Errorf("got %+v", at)
		}
	})
	t.Run("DefaultShortenedToTheKey", func(t *testing.T) {
		at, err := pihu.NewAccessToken(&brief, pihu.TokenRequest{}, iss, now)
		if err != nil || !at.Expires.Equal(in10m) {
			t.Errorf("got %v, %v; want expiry %v", at, err, in10m)
		}
	})
	for _, tt := range []struct {
		name        string
		parent      *pihu.Key
		req         pihu.TokenRequest
		code, param string
	}{
		{"SubsetOfWildcard", parent, pihu.TokenRequest{Permissions: pihu.Permissions{"candidate:read", "candidate:read"}}, "", ""},
		{"ErrEscalation", parent, pihu.TokenRequest{Permissions: pihu.Permissions{"interview:read"}}, pihu.EInsufficientPermissions, "permissions"},
		{"ErrWiderWildcard", parent, pihu.TokenRequest{Permissions: pihu.Permissions{"*"}}, pihu.EInsufficientPermissions, "permissions"},
		{"ErrEmpty", parent, pihu.TokenRequest{Permissions: pihu.Permissions{}}, pihu.EParameterInvalid, "permissions"},
		{"ErrUnknown", parent, pihu.TokenRequest{Permissions: pihu.Permissions{"root"}}, pihu.EParameterInvalid, "permissions"},
		{"MaxLifetime", parent, pihu.TokenRequest{ExpiresIn: "1h"}, "", ""},
		{"ErrOverMax", parent, pihu.TokenRequest{ExpiresIn: "61m"}, pihu.EParameterInvalid, "expires_in"},
		{"ErrDays", parent, pihu.TokenRequest{ExpiresIn: "1d"}, pihu.EParameterInvalid, "expires_in"},
		{"ErrNotALifetime", parent, pihu.TokenRequest{ExpiresIn: "15 minutes"}, pihu.EParameterInvalid, "expires_in"},
		{"ErrOutlivesKey", &brief, pihu.TokenRequest{ExpiresIn: "11m"}, pihu.EParameterInvalid, "expires_in"},
		{"WithinKey", &brief, pihu.TokenRequest{ExpiresIn: "10m"}, "", ""},
		{"AudienceURI", parent, pihu.TokenRequest{Audience: "https://api.example.com/v1"}, "", ""},
		{"AudienceURN", parent, pihu.TokenRequest{Audience: "urn:example:billing"}, "", ""},
		{"AudienceName", parent, pihu.TokenRequest{Audience: "billing-service.v2"}, "", ""},
		{"ErrAudienceSpace", parent, pihu.TokenRequest{Audience: "billing service"}, pihu.EParameterInvalid, "audience"},
		{"ErrAudienceRelative", parent, pihu.TokenRequest{Audience: "/billing"}, pihu.EParameterInvalid, "audience"},
		{"ErrAudienceSchemeOnly", parent, pihu.TokenRequest{Audience: "https:"}, pihu.EParameterInvalid, "audience"},
		{"ErrAudienceLong", parent, pihu.TokenRequest{Audience: strings.Repeat("a", 201)}, pihu.EParameterInvalid, "audience"},
		{"ErrAudienceControl", parent, pihu.TokenRequest{Audience: "a\u202eb"}, pihu.EParameterInvalid, "audience"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			at, err := pihu.NewAccessToken(tt.parent, tt.req, iss, now)
			if got := pihu.ErrorCode(err); got != tt.code {
				t.Fatalf("code: got %q (%v), want %q", got, err, tt.code)
			}
			if err != nil {
				if e := err.(*pihu.Error); e.Param != tt.param {
					t.Errorf("param: got %q, want %q", e.Param, tt.param)
				}
				if tt.param == "expires_in" && tt.parent == &brief && !strings.Contains(err.Error(), in10m.Format(time.RFC3339)) {
					t.Errorf("message %q does not say when the key expires", err)
				}
				return
			}
			if at.Expires.After(*tt.parent.Expires) {
				t.Errorf("the token outlives its key: %v > %v", at.Expires, tt.parent.Expires)
			}
		})
	}
}

func TestIntersect(t *testing.T) {
	for _, tt := range []struct {
		a, b, want pihu.Permissions
	}{
		{pihu.Permissions{"*"}, pihu.Permissions{"candidate:read"}, pihu.Permissions{"candidate:read"}},
		{pihu.Permissions{"candidate:read"}, pihu.Permissions{"*"}, pihu.Permissions{"candidate:read"}},
		{pihu.Permissions{"candidate:*"}, pihu.Permissions{"candidate:write", "interview:read"}, pihu.Permissions{"candidate:write"}},
		{pihu.Permissions{"candidate:write"}, pihu.Permissions{"candidate:read"}, pihu.Permissions{"candidate:read"}},
		{pihu.Permissions{"interview:read"}, pihu.Permissions{"candidate:read"}, pihu.Permissions{}},
		{pihu.Permissions{"*"}, pihu.Permissions{"*"}, pihu.Permissions{"*"}},
	} {
		got := pihu.Intersect(tt.a, tt.b)
		if !slices.Equal(got, tt.want) {
			t.Errorf("Intersect(%v, %v): got %v, want %v", tt.a, tt.b, got, tt.want)
		}
		// Whatever the result grants, both grant.
		for _, p := range append(slices.Clone(pihu.Catalogue), "*", "candidate:*") {
			if got.Grants(p) && (!tt.a.Grants(p) || !tt.b.Grants(p)) {
				t.Errorf("Intersect(%v, %v) grants %s, which one of them does not", tt.a, tt.b, p)
			}
		}
	}
}

func TestLooksLikeToken(t *testing.T) {
	for s, want := range map[string]bool{
		"eyJh.eyJz.c2ln":        true,
		"a.b.c":                 true,
		"ph_live_abc":           false,
		"ph_live_a.b.c":         false,
		"a.b":                   false,
		"a.b.c.d":               false,
		"":                      false,
		"eyJh.eyJz.c2ln.extra.": false,
	} {
		if got := pihu.LooksLikeToken(s); got != want {
			t.Errorf("LooksLikeToken(%q): got %v, want %v", s, got, want)
		}
	}
}

func TestSigningKey_NeverPrintsItsPrivateKey(t *testing.T) {
	k := pihu.NewSigningKey(time.Now())
	if s := k.String(); strings.Contains(s, string(k.PrivateKey)) || !strings.Contains(s, k.ID) {
		t.Errorf("String: got %q", s)
	}
	if len(k.PublicKey) != 32 || len(k.PrivateKey) != 64 || k.Algorithm != "EdDSA" || !strings.HasPrefix(k.ID, "sig_") || !k.Published(time.Now()) {
		t.Errorf("NewSigningKey: got %v", k)
	}
}
