package pihu_test

import (
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
)

// TestPrimary_Admit is the rule of split detection: given the fleet's
// record, a server on the fleet's timeline or a later one of the same
// cluster is admitted; the old primary (an earlier timeline), another
// cluster and a standby are refused with EUnavailable and a reason; with
// no record yet, any primary is admitted.
func TestPrimary_Admit(t *testing.T) {
	fleet := pihu.Primary{SystemID: 7, Timeline: 2}
	for _, tc := range []struct {
		name   string
		fleet  pihu.Primary
		p      pihu.Primary
		reason string // "" for admitted
	}{
		{"SameTimeline", fleet, pihu.Primary{SystemID: 7, Timeline: 2}, ""},
		{"LaterTimeline", fleet, pihu.Primary{SystemID: 7, Timeline: 3}, ""},
		{"NoRecordYet", pihu.Primary{}, pihu.Primary{SystemID: 9, Timeline: 1}, ""},
		{"OldPrimary", fleet, pihu.Primary{SystemID: 7, Timeline: 1}, "older timeline"},
		{"OtherCluster", fleet, pihu.Primary{SystemID: 8, Timeline: 5}, "not the PostgreSQL cluster"},
		{"Standby", fleet, pihu.Primary{SystemID: 7, Timeline: 2, Standby: true}, "standby"},
		{"StandbyNoRecord", pihu.Primary{}, pihu.Primary{SystemID: 7, Timeline: 2, Standby: true}, "standby"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.fleet.Admit(tc.p)
			if tc.reason == "" {
				if err != nil {
					t.Errorf("got %v, want admitted", err)
				}
				return
			}
			if pihu.ErrorCode(err) != pihu.EUnavailable || !strings.Contains(pihu.ErrorMessage(err), tc.reason) {
				t.Errorf("got %v, want %s saying %q", err, pihu.EUnavailable, tc.reason)
			}
		})
	}
}

// TestPrimary_Newer: the record moves to a later timeline of its cluster
// only, never back, and never to another cluster.
func TestPrimary_Newer(t *testing.T) {
	p := pihu.Primary{SystemID: 7, Timeline: 2}
	for _, tc := range []struct{ a, b, want pihu.Primary }{
		{p, pihu.Primary{SystemID: 7, Timeline: 3}, pihu.Primary{SystemID: 7, Timeline: 3}},
		{p, pihu.Primary{SystemID: 7, Timeline: 1}, p},
		{p, pihu.Primary{SystemID: 8, Timeline: 9}, p},
		{pihu.Primary{}, p, p},
		{p, pihu.Primary{}, p},
	} {
		if got := tc.a.Newer(tc.b); got != tc.want {
			t.Errorf("%v.Newer(%v): got %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
