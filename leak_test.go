package pihu_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func TestNewLeak_Cleans(t *testing.T) {
	secret := pihu.NewSecret(pihu.Live)
	l := pihu.NewLeak(pihu.ActorGitHubSecretScanning, "https://gist.github.com/x?k="+secret+"\n\x1b[31m", "commit\r\n", testNow)
	if strings.Contains(l.URL, secret) || strings.ContainsAny(l.URL+l.Source, "\n\r\x1b") {
		t.Errorf("NewLeak: got %+v, want the key masked and no control characters", l)
	}
	if want := "https://gist.github.com/x?k=" + pihu.Hint(secret) + "[31m"; l.URL != want {
		t.Errorf("URL: got %q, want %q", l.URL, want)
	}
	if l.Source != "commit" || !l.At.Equal(pihu.Timestamp(testNow)) || l.At.Location() != time.UTC || l.By != pihu.ActorGitHubSecretScanning {
		t.Errorf("NewLeak: got %+v", l)
	}
	long := pihu.NewLeak(pihu.ActorGitHubSecretScanning, "https://example.com/"+strings.Repeat("é", 2000), strings.Repeat("s", 500), testNow)
	if len(long.URL) > 2048 || !strings.HasSuffix(long.URL, "é") || len(long.Source) != 100 {
		t.Errorf("long: got %d bytes of URL (ending %q), %d of source; want at most 2048, whole characters, and 100", len(long.URL), long.URL[len(long.URL)-2:], len(long.Source))
	}
}

func TestLeak_LeakAction(t *testing.T) {
	at := pihu.Timestamp(testNow)
	active := &pihu.Key{Created: at.Add(-time.Hour)}
	expired := &pihu.Key{Created: at.Add(-time.Hour), Expires: &at}
	revoked := &pihu.Key{Created: at.Add(-time.Hour), Revoked: &at}
	leak := pihu.NewLeak(pihu.ActorGitHubSecretScanning, "https://github.com/a/b", "commit", at)
	flagged := &pihu.Key{Created: at.Add(-time.Hour), Leaked: &leak}
	elsewhere := pihu.NewLeak(pihu.ActorGitHubSecretScanning, "https://github.com/a/c", "commit", at)
	for _, tt := range []struct {
		name   string
		leak   pihu.Leak
		k      *pihu.Key
		policy pihu.LeakPolicy
		force  bool
		want   pihu.LeakOutcome
	}{
		{"RevokeActive", leak, active, pihu.LeakRevoke, false, pihu.LeakRevoked},
		{"DefaultPolicyRevokes", leak, active, "", false, pihu.LeakRevoked},
		{"FlagActive", leak, active, pihu.LeakFlag, false, pihu.LeakFlagged},
		{"ForceOverridesFlag", leak, active, pihu.LeakFlag, true, pihu.LeakRevoked},
		{"Expired", leak, expired, pihu.LeakRevoke, true, pihu.LeakIgnored},
		{"Revoked", leak, revoked, pihu.LeakFlag, false, pihu.LeakIgnored},
		{"FlaggedSamePlace", leak, flagged, pihu.LeakFlag, false, pihu.LeakIgnored},
		{"FlaggedElsewhere", elsewhere, flagged, pihu.LeakFlag, false, pihu.LeakFlagged},
		{"FlaggedThenPolicyRevoke", leak, flagged, pihu.LeakRevoke, false, pihu.LeakRevoked},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.leak.LeakAction(tt.k, tt.policy, tt.force); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseLeakPolicy(t *testing.T) {
	for _, s := range []string{"revoke", "flag"} {
		if p, err := pihu.ParseLeakPolicy(s, "leak_policy"); err != nil || string(p) != s {
			t.Errorf("%q: got %q, %v", s, p, err)
		}
	}
	for _, s := range []string{"", "Revoke", "ignore"} {
		_, err := pihu.ParseLeakPolicy(s, "leak_policy")
		if pihu.ErrorCode(err) != pihu.EParameterInvalid {
			t.Errorf("%q: got %v, want parameter_invalid", s, err)
		}
	}
}
