package pihu_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
)

// universe is every valid permission: the catalogue and every wildcard.
var universe = pihu.Permissions{
	"candidate:read", "candidate:write",
	"interview:read", "interview:write",
	"api_key:read", "api_key:write", "api_key:verify",
	"token:write",
	"webhook:read", "webhook:write",
	"permission:read", "permission:write",
	"role:read", "role:write",
	"identity:read", "identity:write",
	"account:read", "member:read",
	"candidate:*", "interview:*", "api_key:*", "token:*", "webhook:*", "permission:*", "role:*", "identity:*", "account:*", "member:*", "*",
}

func TestPermission_Valid(t *testing.T) {
	for _, tt := range []struct {
		p    pihu.Permission
		want bool
	}{
		{"candidate:read", true},
		{"candidate:write", true},
		{"interview:read", true},
		{"interview:write", true},
		{"api_key:read", true},
		{"api_key:write", true},
		{"api_key:verify", true},
		{"*", true},
		{"candidate:*", true},
		{"interview:*", true},
		{"api_key:*", true},

		{"", false},
		{"candidate", false},
		{"candidate:", false},
		{"candidate:delete", false},
		{"candidate:verify", false},
		{"foo:*", false},
		{"foo:read", false},
		{":*", false},
		{":read", false},
		{"*:*", false},
		{"*:read", false},
		{"**", false},
		{"candidate:*:*", false},
		{"candidate:read:x", false},
		{"Candidate:read", false},
		{"CANDIDATE:READ", false},
		{" candidate:read", false},
		{"candidate:read ", false},
		{"api:*", false},
		{"api_key", false},
		{"api_key:", false},
		{"candidates:read", false},
	} {
		t.Run(string(tt.p), func(t *testing.T) {
			if got := tt.p.Valid(); got != tt.want {
				t.Errorf("Permission(%q).Valid(): got %v, want %v", tt.p, got, tt.want)
			}
		})
	}
	t.Run("Catalogue", func(t *testing.T) {
		if got, want := pihu.Catalogue, universe[:18]; !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

func TestPermissions_Validate(t *testing.T) {
	assertNoError(t, universe.Validate())
	assertNoError(t, pihu.Permissions{}.Validate())
	for _, bad := range []pihu.Permission{"candidate:delete", "foo:*", "candidate", ""} {
		t.Run(string(bad), func(t *testing.T) {
			err := pihu.Permissions{"candidate:read", bad, "also:bad"}.Validate()
			e := assertError(t, err, pihu.EParameterInvalid, "permissions")
			if want := `"` + string(bad) + `"`; !strings.Contains(e.Message, want) {
				t.Errorf("Message: got %q, want it to name %s", e.Message, want)
			}
		})
	}
}

func TestPermissions_Normalize(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   pihu.Permissions
		want pihu.Permissions
	}{
		{"Empty", pihu.Permissions{}, pihu.Permissions{}},
		{"One", pihu.Permissions{"*"}, pihu.Permissions{"*"}},
		{"NoDuplicates", pihu.Permissions{"interview:read", "candidate:read"}, pihu.Permissions{"interview:read", "candidate:read"}},
		{"Duplicates", pihu.Permissions{"b:x", "a:x", "b:x", "c:x", "a:x"}, pihu.Permissions{"b:x", "a:x", "c:x"}},
		{"AllSame", pihu.Permissions{"*", "*", "*"}, pihu.Permissions{"*"}},
		// Normalize removes duplicates only; a permission implied by another
		// is kept, since the caller asked for it by name.
		{"ImpliedKept", pihu.Permissions{"candidate:read", "candidate:write", "*"}, pihu.Permissions{"candidate:read", "candidate:write", "*"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := tt.in.Normalize(); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if !slices.Equal(tt.in, in) {
				t.Errorf("input: got %v, want %v (unchanged)", tt.in, in)
			}
		})
	}
}

func TestPermissions_Strings(t *testing.T) {
	if got, want := (pihu.Permissions{"*", "candidate:read"}).Strings(), []string{"*", "candidate:read"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := (pihu.Permissions{}).Strings(); got == nil || len(got) != 0 {
		t.Errorf("got %#v, want an empty, non-nil slice", got)
	}
}

func TestPermissions_Grants(t *testing.T) {
	for _, tt := range []struct {
		held pihu.Permissions
		want pihu.Permission
		ok   bool
	}{
		// "*" grants everything, itself included.
		{pihu.Permissions{"*"}, "*", true},
		{pihu.Permissions{"*"}, "candidate:*", true},
		{pihu.Permissions{"*"}, "candidate:read", true},
		{pihu.Permissions{"*"}, "api_key:verify", true},

		// A resource wildcard grants its resource's actions and itself,
		// nothing wider and nothing elsewhere.
		{pihu.Permissions{"candidate:*"}, "candidate:read", true},
		{pihu.Permissions{"candidate:*"}, "candidate:write", true},
		{pihu.Permissions{"candidate:*"}, "candidate:*", true},
		{pihu.Permissions{"candidate:*"}, "*", false},
		{pihu.Permissions{"candidate:*"}, "interview:read", false},
		{pihu.Permissions{"candidate:*"}, "interview:*", false},
		{pihu.Permissions{"api_key:*"}, "api_key:verify", true},
		{pihu.Permissions{"api_key:*"}, "api_key:write", true},

		// write implies read, not the reverse, and no other action.
		{pihu.Permissions{"candidate:write"}, "candidate:read", true},
		{pihu.Permissions{"candidate:write"}, "candidate:write", true},
		{pihu.Permissions{"candidate:write"}, "candidate:*", false},
		{pihu.Permissions{"candidate:write"}, "*", false},
		{pihu.Permissions{"candidate:write"}, "interview:read", false},
		{pihu.Permissions{"candidate:read"}, "candidate:write", false},
		{pihu.Permissions{"candidate:read"}, "candidate:read", true},
		{pihu.Permissions{"api_key:write"}, "api_key:read", true},
		{pihu.Permissions{"api_key:write"}, "api_key:verify", false},
		{pihu.Permissions{"api_key:verify"}, "api_key:read", false},
		{pihu.Permissions{"api_key:read"}, "api_key:verify", false},
		{pihu.Permissions{"interview:write"}, "candidate:read", false},

		// A set grants what any member grants.
		{pihu.Permissions{"candidate:read", "interview:write"}, "interview:read", true},
		{pihu.Permissions{"candidate:read", "interview:write"}, "candidate:write", false},
		{pihu.Permissions{"interview:read", "candidate:*"}, "candidate:write", true},
		{pihu.Permissions{"candidate:read", "*"}, "api_key:write", true},

		// Holding every concrete permission still is not a wildcard.
		{pihu.Catalogue, "*", false},
		{pihu.Catalogue, "candidate:*", false},
		{pihu.Catalogue, "api_key:verify", true},

		// Nothing is granted by nothing.
		{nil, "candidate:read", false},
		{pihu.Permissions{}, "*", false},
	} {
		t.Run(strings.Join(tt.held.Strings(), ",")+"→"+string(tt.want), func(t *testing.T) {
			if got := tt.held.Grants(tt.want); got != tt.ok {
				t.Errorf("%v.Grants(%q): got %v, want %v", tt.held, tt.want, got, tt.ok)
			}
		})
	}

	t.Run("Matrix", func(t *testing.T) {
		// Every single valid permission against every other, from a
		// model written out by hand: p grants q when p is "*", p == q,
		// p is q's resource wildcard, or p is q's resource's write and q
		// its read.
		grants := func(p, q pihu.Permission) bool {
			if p == "*" || p == q {
				return true
			}
			if q == "*" {
				return false
			}
			pr, pa, _ := strings.Cut(string(p), ":")
			qr, qa, _ := strings.Cut(string(q), ":")
			return pr == qr && (pa == "*" || pa == "write" && qa == "read")
		}
		for _, p := range universe {
			for _, q := range universe {
				if got, want := (pihu.Permissions{p}).Grants(q), grants(p, q); got != want {
					t.Errorf("[%v].Grants(%v): got %v, want %v", p, q, got, want)
				}
			}
		}
	})
}

// FuzzGrants checks, for arbitrary permission strings (valid or not), that
// Grants never panics and that:
//
//   - a holder grants every permission it holds;
//   - Permissions{"*"} grants anything;
//   - a holder without "*" never grants "*";
//   - a set grants exactly what one of its members grants;
//
// and, when want is valid, that a wildcard "res:*" is granted only by
// "res:*" itself or "*"; and, when the holder's permissions are valid too,
// that granting is transitive (no escalation by delegation): if the holder
// grants want, it grants everything a key holding only want would grant.
//
// held is a comma-separated list of permissions.
func FuzzGrants(f *testing.F) {
	f.Add("candidate:read", "candidate:write")
	f.Add("candidate:write", "candidate:read")
	f.Add("candidate:*", "*")
	f.Add("*", "api_key:verify")
	f.Add("candidate:read,interview:*", "interview:write")
	f.Add("api_key:write", "api_key:verify")
	f.Add(":*", "")
	f.Add("foo:*", "foo:read")
	f.Fuzz(func(t *testing.T, held, want string) {
		var ps pihu.Permissions
		for p := range strings.SplitSeq(held, ",") {
			ps = append(ps, pihu.Permission(p))
		}
		w := pihu.Permission(want)
		got := ps.Grants(w)

		for _, p := range ps {
			if !ps.Grants(p) {
				t.Fatalf("%q.Grants(%q): got false, want true (it holds it)", ps, p)
			}
		}
		if !(pihu.Permissions{"*"}).Grants(w) {
			t.Fatalf("[*].Grants(%q): got false, want true", w)
		}
		if !slices.Contains(ps, "*") && ps.Grants("*") {
			t.Fatalf("%q.Grants(\"*\"): got true, want false (it does not hold \"*\")", ps)
		}
		byMember := false
		for _, p := range ps {
			byMember = byMember || (pihu.Permissions{p}).Grants(w)
		}
		if got != byMember {
			t.Fatalf("%q.Grants(%q): got %v, want %v (what one member grants)", ps, w, got, byMember)
		}
		granting := w.GrantedBy()
		if inList := slices.ContainsFunc(ps, func(p pihu.Permission) bool { return slices.Contains(granting, p) }); got != inList {
			t.Fatalf("%q.Grants(%q): got %v, but holding one of GrantedBy %q: %v (the list filter would disagree)", ps, w, got, granting, inList)
		}
		if res, ok := strings.CutSuffix(want, ":*"); ok && got && w.Valid() {
			if !slices.Contains(ps, "*") && !slices.Contains(ps, pihu.Permission(res+":*")) {
				t.Fatalf("%q.Grants(%q): got true, want false (only %q or \"*\" grants it)", ps, w, w)
			}
		}

		if ps.Validate() != nil || !w.Valid() || !got {
			return
		}
		for _, x := range universe {
			if (pihu.Permissions{w}).Grants(x) && !ps.Grants(x) {
				t.Fatalf("%q grants %q, which grants %q, but %q.Grants(%q): got false, want true", ps, w, x, ps, x)
			}
		}
	})
}
