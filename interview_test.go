package pihu_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func TestInterview_Validate(t *testing.T) {
	valid := func() pihu.Interview {
		return pihu.Interview{CandidateID: "cand_x", Position: "Engineer", Status: pihu.StatusScheduled}
	}
	for _, tt := range []struct {
		name      string
		change    func(*pihu.Interview)
		wantCode  string
		wantParam string
	}{
		{"Valid", func(*pihu.Interview) {}, "", ""},
		{"Position200Runes", func(iv *pihu.Interview) { iv.Position = strings.Repeat("é", 200) }, "", ""},
		{"ErrCandidateMissing", func(iv *pihu.Interview) { iv.CandidateID = "" }, pihu.EParameterMissing, "candidate_id"},
		{"ErrPositionMissing", func(iv *pihu.Interview) { iv.Position = "" }, pihu.EParameterMissing, "position"},
		{"ErrPositionBlank", func(iv *pihu.Interview) { iv.Position = " \u00a0" }, pihu.EParameterInvalid, "position"},
		{"ErrPosition201Runes", func(iv *pihu.Interview) { iv.Position = strings.Repeat("é", 201) }, pihu.EParameterInvalid, "position"},
		{"ErrStatus", func(iv *pihu.Interview) { iv.Status = "done" }, pihu.EParameterInvalid, "status"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			iv := valid()
			tt.change(&iv)
			err := iv.Validate()
			if tt.wantCode == "" {
				assertNoError(t, err)
				return
			}
			assertError(t, err, tt.wantCode, tt.wantParam)
		})
	}
}

func TestParseScheduledAt(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // "" for an error
	}{
		{"2024-03-01T14:30:00Z", "2024-03-01T14:30:00Z"},
		{"2024-03-01T15:30:00+01:00", "2024-03-01T14:30:00Z"},
		{"2024-03-01t14:30:00z", ""},
		{"2024-03-01T14:30:00.5Z", "2024-03-01T14:30:00Z"},
		{"2024-03-01T14:30:59.999Z", "2024-03-01T14:30:59Z"},            // toISOString()
		{"2024-03-01T15:30:00.123456789+01:00", "2024-03-01T14:30:00Z"}, // time.Now() in Go
		{"2024-03-01T14:30:00.Z", ""},
		{"2024-03-01T14:30:00", ""},
		{"2024-03-01", ""},
		{"2024-02-30T14:30:00Z", ""},
		{"1709303400", ""},
		{"", ""},
	} {
		got, err := pihu.ParseScheduledAt(tt.in)
		if tt.want == "" {
			assertError(t, err, pihu.EParameterInvalid, "scheduled_at")
			continue
		}
		assertNoError(t, err)
		if got.Format(time.RFC3339) != tt.want || got.Location() != time.UTC {
			t.Errorf("ParseScheduledAt(%q): got %v, want %s", tt.in, got, tt.want)
		}
	}
}
