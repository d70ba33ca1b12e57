package pihu_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/pihu-ai/pihu"
)

func TestParseAllowedIPs(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{"203.0.113.7"}, []string{"203.0.113.7"}},
		{[]string{"10.0.0.0/8", "2001:db8::/32"}, []string{"10.0.0.0/8", "2001:db8::/32"}},
		{[]string{"10.1.2.3/8"}, []string{"10.0.0.0/8"}},                           // host bits cleared
		{[]string{"203.0.113.7/32"}, []string{"203.0.113.7"}},                      // one address
		{[]string{"2001:DB8:0:0::1"}, []string{"2001:db8::1"}},                     // short form
		{[]string{"::ffff:192.0.2.1"}, []string{"192.0.2.1"}},                      // mapped IPv4
		{[]string{"::ffff:192.0.2.0/120"}, []string{"192.0.2.0/24"}},               // mapped range
		{[]string{"10.0.0.1", "10.0.0.1/32", "10.0.0.1"}, []string{"10.0.0.1"}},    // duplicates
		{[]string{"0.0.0.0/0", "::/0"}, []string{"0.0.0.0/0", "::/0"}},             // everything, explicitly
		{[]string{"192.0.2.1", "10.0.0.0/8"}, []string{"192.0.2.1", "10.0.0.0/8"}}, // order kept
	} {
		a, err := pihu.ParseAllowedIPs(tt.in)
		assertNoError(t, err)
		if got := a.Strings(); !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) || a.Anywhere() != (tt.want == nil) {
			t.Errorf("ParseAllowedIPs(%q): got %#v, want %#v", tt.in, got, tt.want)
		}
	}
	hundred := make([]string, 100)
	for i := range hundred {
		hundred[i] = fmt.Sprintf("10.0.%d.%d", i/250, i%250)
	}
	if got, err := pihu.ParseAllowedIPs(hundred); err != nil || got.Len() != 100 {
		t.Errorf("100 entries: got %d, %v; want all", got.Len(), err)
	}
	for _, in := range [][]string{
		{},
		append(hundred, "10.1.0.0"),
		{"localhost"},
		{"203.0.113"},
		{"203.0.113.256"},
		{"10.0.0.0/33"},
		{"2001:db8::/129"},
		{"10.0.0.0/"},
		{"/8"},
		{"fe80::1%eth0"},
		{"::ffff:192.0.2.0/90"}, // a mapped range wider than IPv4
		{" 10.0.0.1"},
		{"10.0.0.1", ""},
	} {
		_, err := pihu.ParseAllowedIPs(in)
		assertError(t, err, pihu.EParameterInvalid, "allowed_ips")
	}
}

func TestAllowedIPs_Allows(t *testing.T) {
	list := []string{"203.0.113.0/24", "2001:db8::/32", "198.51.100.7"}
	for _, tt := range []struct {
		allowed []string
		addr    string
		want    bool
	}{
		{nil, "127.0.0.1", true},
		{nil, "not an address", true},
		{list, "203.0.113.9", true},
		{list, "203.0.114.9", false},
		{list, "198.51.100.7", true},
		{list, "198.51.100.8", false},
		{list, "2001:db8:1::5", true},
		{list, "2001:db9::5", false},
		{list, "::ffff:203.0.113.9", true}, // an IPv4 client on a dual-stack socket
		{list, "127.0.0.1", false},
		{list, "", false},
		{list, "garbage", false},
		{[]string{}, "203.0.113.9", false},
		{[]string{"127.0.0.1"}, "127.0.0.1", true},
		{[]string{"::1"}, "::1", true},
		{[]string{"::1"}, "127.0.0.1", false},
	} {
		if got := pihu.StoredAllowedIPs(tt.allowed).Allows(tt.addr); got != tt.want {
			t.Errorf("%q allows %q: got %v, want %v", tt.allowed, tt.addr, got, tt.want)
		}
	}
}

func TestNewKey_AllowedIPs(t *testing.T) {
	req := func(ips ...string) pihu.KeyRequest {
		r := pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"candidate:read"}}
		if ips != nil {
			r.AllowedIPs = ips
		}
		return r
	}
	open := newCreator(t, pihu.Live, nil, "*")
	limited := newCreator(t, pihu.Live, nil, "*")
	limited.AllowedIPs = pihu.StoredAllowedIPs([]string{"10.0.0.0/8", "203.0.113.7"})

	for _, tt := range []struct {
		name    string
		creator *pihu.Key
		req     pihu.KeyRequest
		want    []string
		code    string
	}{
		{"OperatorAnywhere", nil, req(), nil, ""},
		{"OperatorList", nil, req("203.0.113.7/32"), []string{"203.0.113.7"}, ""},
		{"OpenCreatorAnywhere", open, req(), nil, ""},
		{"OpenCreatorList", open, req("192.0.2.0/24"), []string{"192.0.2.0/24"}, ""},
		{"LimitedCreatorInherits", limited, req(), []string{"10.0.0.0/8", "203.0.113.7"}, ""},
		{"LimitedCreatorNarrower", limited, req("10.1.0.0/16", "203.0.113.7"), []string{"10.1.0.0/16", "203.0.113.7"}, ""},
		{"LimitedCreatorSame", limited, req("10.0.0.0/8"), []string{"10.0.0.0/8"}, ""},
		{"ErrWiderRange", limited, req("10.0.0.0/7"), nil, pihu.EInsufficientPermissions},
		{"ErrOtherAddress", limited, req("10.0.0.1", "192.0.2.1"), nil, pihu.EInsufficientPermissions},
		{"ErrRangeAroundAddress", limited, req("203.0.113.0/24"), nil, pihu.EInsufficientPermissions},
		{"ErrEverything", limited, req("0.0.0.0/0"), nil, pihu.EInsufficientPermissions},
		{"ErrInvalid", open, req("10.0.0.300"), nil, pihu.EParameterInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, _, err := pihu.NewKey("acct_1", tt.req, tt.creator, testNow)
			if tt.code != "" {
				assertError(t, err, tt.code, "allowed_ips")
				return
			}
			assertNoError(t, err)
			if got := k.AllowedIPs.Strings(); !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("AllowedIPs: got %#v, want %#v", got, tt.want)
			}
		})
	}
	// The new key's list is its own: changing what it shows leaves the
	// creator's.
	k, _, err := pihu.NewKey("acct_1", req(), limited, testNow)
	assertNoError(t, err)
	k.AllowedIPs.Strings()[0] = "192.0.2.0/24"
	if got := limited.AllowedIPs.Strings(); got[0] != "10.0.0.0/8" || k.AllowedIPs.Strings()[0] != "10.0.0.0/8" {
		t.Errorf("a list changed with what it showed: %v", got)
	}
}

// BenchmarkIPAllowed measures the check every request of a limited key
// makes: the worst case, a miss through a full list of 100 ranges.
func BenchmarkIPAllowed(b *testing.B) {
	list := make([]string, pihu.MaxAllowedIPs)
	for i := range list {
		list[i] = fmt.Sprintf("10.%d.0.0/16", i)
	}
	allowed, err := pihu.ParseAllowedIPs(list)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if allowed.Allows("192.0.2.1") {
			b.Fatal("allowed")
		}
	}
}

// TestStoredAllowedIPs: a stored list is parsed once; one in normal form
// is shown as stored, and one that is not (written around the API) is
// shown and stored again exactly as it was, an entry that does not parse
// allowing nothing.
func TestStoredAllowedIPs(t *testing.T) {
	if a := pihu.StoredAllowedIPs(nil); !a.Anywhere() || a.Strings() != nil || !a.Allows("203.0.113.7") {
		t.Errorf("nil: got %v, want anywhere", a.Strings())
	}
	if a := pihu.StoredAllowedIPs([]string{}); a.Anywhere() || a.Strings() == nil || len(a.Strings()) != 0 || a.Allows("203.0.113.7") {
		t.Errorf("[]: got %#v, want nowhere", a.Strings())
	}
	for _, tt := range []struct {
		in      []string
		allowed []string
		refused []string
	}{
		{[]string{"10.0.0.0/8", "2001:db8::1"}, []string{"10.1.2.3", "2001:db8::1"}, []string{"11.0.0.1", "2001:db8::2"}},
		{[]string{"10.1.2.3/8", "garbage"}, []string{"10.9.9.9"}, []string{"11.0.0.1", "garbage"}},
		{[]string{"garbage"}, nil, []string{"10.0.0.1", "garbage", ""}},
		{[]string{"::ffff:10.0.0.1", "10.0.0.1"}, []string{"10.0.0.1"}, []string{"10.0.0.2"}},
	} {
		a := pihu.StoredAllowedIPs(tt.in)
		if got := a.Strings(); !slices.Equal(got, tt.in) || a.Len() != len(tt.in) {
			t.Errorf("%q: shown as %q, want as stored", tt.in, got)
		}
		for _, ip := range tt.allowed {
			if !a.Allows(ip) {
				t.Errorf("%q: %q refused", tt.in, ip)
			}
		}
		for _, ip := range tt.refused {
			if a.Allows(ip) {
				t.Errorf("%q: %q allowed", tt.in, ip)
			}
		}
	}
}

func TestAllowedIPs_Within(t *testing.T) {
	list := func(ips ...string) pihu.AllowedIPs { return pihu.StoredAllowedIPs(ips) }
	outer := list("10.0.0.0/8", "203.0.113.7")
	for _, tt := range []struct {
		name  string
		inner pihu.AllowedIPs
		outer pihu.AllowedIPs
		want  bool
	}{
		{"Same", outer, outer, true},
		{"Narrower", list("10.1.0.0/16", "203.0.113.7"), outer, true},
		{"Wider", list("10.0.0.0/7"), outer, false},
		{"Other", list("10.0.0.1", "192.0.2.1"), outer, false},
		{"RangeAroundAddress", list("203.0.113.0/24"), outer, false},
		{"Garbage", list("garbage"), outer, false},
		{"AnywhereInList", pihu.AllowedIPs{}, outer, false},
		{"ListInAnywhere", outer, pihu.AllowedIPs{}, true},
		{"AnywhereInAnywhere", pihu.AllowedIPs{}, pihu.AllowedIPs{}, true},
		{"InGarbage", list("10.0.0.1"), list("garbage"), false},
	} {
		if got := tt.inner.Within(tt.outer); got != tt.want {
			t.Errorf("%s: %v within %v: got %v, want %v", tt.name, tt.inner, tt.outer, got, tt.want)
		}
	}
}
