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
		got, err := pihu.ParseAllowedIPs(tt.in)
		assertNoError(t, err)
		if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("ParseAllowedIPs(%q): got %#v, want %#v", tt.in, got, tt.want)
		}
	}
	hundred := make([]string, 100)
	for i := range hundred {
		hundred[i] = fmt.Sprintf("10.0.%d.%d", i/250, i%250)
	}
	if got, err := pihu.ParseAllowedIPs(hundred); err != nil || len(got) != 100 {
		t.Errorf("100 entries: got %d, %v; want all", len(got), err)
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

func TestIPAllowed(t *testing.T) {
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
		if got := pihu.IPAllowed(tt.allowed, tt.addr); got != tt.want {
			t.Errorf("IPAllowed(%q, %q): got %v, want %v", tt.allowed, tt.addr, got, tt.want)
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
	limited.AllowedIPs = []string{"10.0.0.0/8", "203.0.113.7"}

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
			if !slices.Equal(k.AllowedIPs, tt.want) || (k.AllowedIPs == nil) != (tt.want == nil) {
				t.Errorf("AllowedIPs: got %#v, want %#v", k.AllowedIPs, tt.want)
			}
		})
	}
	// The new key's list is its own: changing it leaves the creator's.
	k, _, err := pihu.NewKey("acct_1", req(), limited, testNow)
	assertNoError(t, err)
	k.AllowedIPs[0] = "192.0.2.0/24"
	if limited.AllowedIPs[0] != "10.0.0.0/8" {
		t.Errorf("the creator's list changed with its child's: %v", limited.AllowedIPs)
	}
}

// BenchmarkIPAllowed measures the check every request of a limited key
// makes: the worst case, a miss through a full list of 100 ranges.
func BenchmarkIPAllowed(b *testing.B) {
	list := make([]string, pihu.MaxAllowedIPs)
	for i := range list {
		list[i] = fmt.Sprintf("10.%d.0.0/16", i)
	}
	for b.Loop() {
		if pihu.IPAllowed(list, "192.0.2.1") {
			b.Fatal("allowed")
		}
	}
}
