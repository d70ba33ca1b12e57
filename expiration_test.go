package pihu_test

import (
	"math/big"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

const day = 24 * time.Hour

// units maps an expiration's unit letter to its length (SPEC §3).
var units = map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': day, 'w': 7 * day}

func TestParseExpiration(t *testing.T) {
	t.Run("Accepts", func(t *testing.T) {
		for _, tt := range []struct {
			s    string
			want time.Duration
		}{
			{"1m", time.Minute},
			{"59m", 59 * time.Minute},
			{"12h", 12 * time.Hour},
			{"1d", day},
			{"30d", 30 * day},
			{"2w", 14 * day},
			{"3650d", 3650 * day},
			{"521w", 521 * 7 * day}, // 3647 days
			{"87600h", 3650 * day},
			{"5256000m", 3650 * day},
			{"100m", 100 * time.Minute},
		} {
			t.Run(tt.s, func(t *testing.T) {
				got, err := pihu.ParseExpiration(tt.s)
				assertNoError(t, err)
				if got != tt.want {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}
	})

	t.Run("Rejects", func(t *testing.T) {
		for _, s := range []string{
			"0d", "0m", "00d", "030d", "-1d", "+1h", "1y", "1s", "1M", "1D", "d", "m", "",
			"30", " 30d", "30d ", "3 0d", "30dd", "1d1h", "3651d", "522w", "87601h", "5256001m",
			"99999999999999999999d", "1.5h", "1e3m", "0x1d", "１d", "30ｄ",
			// Large enough that N times the unit overflows int64 nanoseconds.
			"106752d", "2562048h", "15251w", "999999999w", "153722867m",
		} {
			t.Run(s, func(t *testing.T) {
				d, err := pihu.ParseExpiration(s)
				assertError(t, err, pihu.EParameterInvalid, "expiration")
				if d != 0 {
					t.Errorf("duration: got %v, want 0 with the error", d)
				}
			})
		}
	})

	t.Run("EveryDayUpToLimit", func(t *testing.T) {
		for n := 1; n <= 3660; n++ {
			s := strconv.Itoa(n) + "d"
			d, err := pihu.ParseExpiration(s)
			if n <= 3650 {
				if err != nil || d != time.Duration(n)*day {
					t.Fatalf("ParseExpiration(%q): got (%v, %v), want (%v, nil)", s, d, err, time.Duration(n)*day)
				}
			} else if err == nil {
				t.Fatalf("ParseExpiration(%q): got %v, want an error", s, d)
			}
		}
	})
}

// expirationShape is the syntax of SPEC §3: N ≥ 1 without sign or leading
// zero, then a unit.
var expirationShape = regexp.MustCompile(`^[1-9][0-9]*[mhdw]$`)

// FuzzParseExpiration checks that ParseExpiration never panics, and that it
// accepts s exactly when s is N (≥ 1, no sign, no leading zero) followed by
// m, h, d or w and N units are at least 1 minute and at most 3650 days; that
// what it accepts lies in that range, and formats back (the number and the
// unit) to s; and that what it rejects is EParameterInvalid on "expiration".
func FuzzParseExpiration(f *testing.F) {
	for _, s := range []string{
		"1m", "12h", "30d", "2w", "3650d", "3651d", "521w", "522w", "87600h", "0d", "030d",
		"-1d", "1y", "", "d", "1.5h", "+1h", "99999999999999999999d", "106752d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := pihu.ParseExpiration(s)

		// The oracle: exact arithmetic, so no overflow can hide in it.
		wantOK := false
		if expirationShape.MatchString(s) {
			n, _ := new(big.Int).SetString(s[:len(s)-1], 10)
			ns := n.Mul(n, big.NewInt(int64(units[s[len(s)-1]])))
			wantOK = ns.Cmp(big.NewInt(int64(time.Minute))) >= 0 && ns.Cmp(big.NewInt(int64(3650*day))) <= 0
		}

		if err != nil {
			assertError(t, err, pihu.EParameterInvalid, "expiration")
			if d != 0 {
				t.Fatalf("ParseExpiration(%q): got %v with an error, want 0", s, d)
			}
			if wantOK {
				t.Fatalf("ParseExpiration(%q): got %v, want it accepted", s, err)
			}
			return
		}
		if !wantOK {
			t.Fatalf("ParseExpiration(%q): got %v, want an error", s, d)
		}
		if d < time.Minute || d > 3650*day {
			t.Fatalf("ParseExpiration(%q): got %v, want 1m to 3650 days", s, d)
		}
		unit := units[s[len(s)-1]]
		if d%unit != 0 {
			t.Fatalf("ParseExpiration(%q): got %v, want a whole number of %v", s, d, unit)
		}
		if back := strconv.FormatInt(int64(d/unit), 10) + s[len(s)-1:]; back != s {
			t.Fatalf("ParseExpiration(%q): got %v, which formats back to %q, want %q", s, d, back, s)
		}
	})
}
