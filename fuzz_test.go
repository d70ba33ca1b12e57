package pihu_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// Fuzz targets of the parsers of request fields and headers that had none.
// Each states a property; all of them: no panic, and a rejection is a
// *pihu.Error of a 4xx code naming the field.

// rejected checks that err is a *pihu.Error with code and param.
func rejected(t *testing.T, input string, err error, code, param string) {
	t.Helper()
	var e *pihu.Error
	if !errors.As(err, &e) {
		t.Fatalf("%q: the error %v is not a *pihu.Error", input, err)
	}
	if e.Code != code || e.Param != param || e.Message == "" {
		t.Fatalf("%q: got code %q param %q message %q, want %q on %q with a message", input, e.Code, e.Param, e.Message, code, param)
	}
}

// FuzzParseAllowedIPs: a list it accepts comes back normalised, so that
// parsing its output gives the output again (parse(print(x)) == x), with
// no duplicates, and every address of the input is allowed by the output.
func FuzzParseAllowedIPs(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "10.1.2.3/8,10.0.0.0/8", "::ffff:10.0.0.1", "2001:db8::1/32", "fe80::1%eth0", "", "1.2.3.4/33", "::/0,0.0.0.0/0", " 1.2.3.4", "01.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		ips := strings.Split(list, ",")
		parsed, err := pihu.ParseAllowedIPs(ips)
		if err != nil {
			rejected(t, list, err, pihu.EParameterInvalid, "allowed_ips")
			return
		}
		out := parsed.Strings()
		again, err := pihu.ParseAllowedIPs(out)
		if err != nil || !slices.Equal(again.Strings(), out) || again.Len() != parsed.Len() {
			t.Fatalf("%q: parsed to %q, which parses to %q, %v", list, out, again, err)
		}
		for i, a := range out {
			if slices.Contains(out[i+1:], a) {
				t.Fatalf("%q: %q twice in %q", list, a, out)
			}
		}
		for _, ip := range ips {
			if !strings.Contains(ip, "/") && (!parsed.Allows(ip) || !pihu.StoredAllowedIPs(out).Allows(ip)) {
				t.Fatalf("%q: %q is not allowed by %q", list, ip, out)
			}
		}
	})
}

// FuzzPermissions: a list Validate accepts names only permissions of the
// catalogue or wildcards of it, and normalising it twice is normalising it
// once; what the normalised list grants, the list grants.
func FuzzPermissions(f *testing.F) {
	for _, s := range []string{"*", "candidate:*", "candidate:read,candidate:write", "api_key:verify", "Candidate:read", "candidate:", ":read", "*:*", "token:write,token:write", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		var ps pihu.Permissions
		for _, p := range strings.Split(list, ",") {
			ps = append(ps, pihu.Permission(p))
		}
		if err := ps.Validate(); err != nil {
			var e *pihu.Error
			if !errors.As(err, &e) || e.Code != pihu.EParameterInvalid && e.Code != pihu.EParameterMissing {
				t.Fatalf("%q: got %v, want a 400 error", list, err)
			}
			return
		}
		for _, p := range ps {
			if !p.Valid() {
				t.Fatalf("%q: Validate accepted %q, which is not Valid", list, p)
			}
		}
		n := ps.Normalize()
		if !slices.Equal(n.Normalize(), n) {
			t.Fatalf("%q: Normalize is not idempotent: %q then %q", list, n, n.Normalize())
		}
		for _, p := range ps {
			if !ps.Grants(p) || !n.Grants(p) {
				t.Fatalf("%q: %q is listed but not granted (normalised %q)", list, p, n)
			}
		}
	})
}

// FuzzParseExpireOldIn: "now" is 0; anything else accepted is a whole
// number of m, h, d or w of at least a minute and at most 3650 days, the
// same as ParseExpiration gives for it.
func FuzzParseExpireOldIn(f *testing.F) {
	for _, s := range []string{"now", "24h", "7d", "1w", "0m", "3650d", "3651d", "NOW", "1.5h", "-1h", "", "1h ", "9999999999999999999w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := pihu.ParseExpireOldIn(s)
		if err != nil {
			rejected(t, s, err, pihu.EParameterInvalid, "expire_old_in")
			return
		}
		if s == pihu.ExpireNow {
			if d != 0 {
				t.Fatalf("now: got %v", d)
			}
			return
		}
		if d < time.Minute || d > 3650*24*time.Hour {
			t.Fatalf("%q: got %v, out of 1 minute to 3650 days", s, d)
		}
		if e, err := pihu.ParseExpiration(s); err != nil || e != d {
			t.Fatalf("%q: expire_old_in %v, expiration %v %v", s, d, e, err)
		}
	})
}

// FuzzValidIdempotencyKey: a value it accepts is 1 to the maximum of
// printable ASCII characters, and derives a key (NewIdempotencyKey); the
// same value in two scopes derives two lookups.
func FuzzValidIdempotencyKey(f *testing.F) {
	for _, s := range []string{"a", "8e03978e-40d5-43e8-bc93-6894a57f9324", "", "é", "a\nb", strings.Repeat("x", 256), strings.Repeat("x", 255)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := pihu.ValidIdempotencyKey(s)
		if err != nil {
			rejected(t, s, err, pihu.EParameterInvalid, pihu.IdempotencyKeyHeader)
			return
		}
		if s == "" || len(s) > pihu.MaxIdempotencyKeyLength {
			t.Fatalf("%q: accepted, length %d", s, len(s))
		}
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] > 0x7e {
				t.Fatalf("%q: accepted with byte %#x", s, s[i])
			}
		}
		a, err := pihu.NewIdempotencyKey("key:key_a", s)
		if err != nil {
			t.Fatalf("%q: valid, but NewIdempotencyKey: %v", s, err)
		}
		b, _ := pihu.NewIdempotencyKey("key:key_b", s)
		if slices.Equal(a.Lookup(), b.Lookup()) {
			t.Fatalf("%q: the same lookup in two scopes", s)
		}
	})
}

// FuzzParseScheduledAt: a time it accepts is UTC, to the second, and
// formatting it in RFC 3339 parses back to the same instant.
func FuzzParseScheduledAt(f *testing.F) {
	for _, s := range []string{"2024-03-01T14:30:00Z", "2024-03-01T15:30:00+01:00", "2024-03-01T14:30:00.5Z", "2024-02-30T00:00:00Z", "", "2024-03-01 14:30:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := pihu.ParseScheduledAt(s)
		if err != nil {
			rejected(t, s, err, pihu.EParameterInvalid, "scheduled_at")
			return
		}
		if tm.Location() != time.UTC || tm.Nanosecond() != 0 {
			t.Fatalf("%q: got %v, want UTC to the second", s, tm)
		}
		again, err := pihu.ParseScheduledAt(tm.Format(time.RFC3339))
		if err != nil || !again.Equal(tm) {
			t.Fatalf("%q: %v formats to %q, which parses to %v, %v", s, tm, tm.Format(time.RFC3339), again, err)
		}
	})
}

// FuzzValidateAudience: an audience it accepts is 1 to 200 printable ASCII
// characters without spaces.
func FuzzValidateAudience(f *testing.F) {
	for _, s := range []string{"https://api.example.com", "urn:example:billing", "billing-service", "", "a b", "é", strings.Repeat("a", 201)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := pihu.ValidateAudience(s); err != nil {
			rejected(t, s, err, pihu.EParameterInvalid, "audience")
			return
		}
		if s == "" || len(s) > 200 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			t.Fatalf("%q: accepted", s)
		}
	})
}

// FuzzValidateEmail and FuzzValidateKeyName: no panic, and a rejection is
// a 400 on the field.
func FuzzValidateEmail(f *testing.F) {
	for _, s := range []string{"a@example.com", "", "a@", "@b", "a b@example.com", "a@example.com\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := pihu.ValidateEmail(s); err != nil {
			rejected(t, s, err, pihu.ErrorCode(err), "email")
			if c := pihu.ErrorCode(err); c != pihu.EParameterInvalid && c != pihu.EParameterMissing {
				t.Fatalf("%q: code %q", s, c)
			}
		}
	})
}

func FuzzValidateKeyName(f *testing.F) {
	for _, s := range []string{"My API Key", "", strings.Repeat("n", 101), "a\x00b", "名前"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := pihu.ValidateKeyName(s)
		if err != nil {
			rejected(t, s, err, pihu.ErrorCode(err), "name")
			if c := pihu.ErrorCode(err); c != pihu.EParameterInvalid && c != pihu.EParameterMissing {
				t.Fatalf("%q: code %q", s, c)
			}
			return
		}
		if n := len([]rune(s)); n < 1 || n > 100 {
			t.Fatalf("%q: accepted, %d characters", s, n)
		}
	})
}
