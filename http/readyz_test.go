package http_test

import (
	"net/http"
	"testing"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// /readyz says whether the Redis instances share answers; a degraded
// Redis leaves the server ready (200), since it serves without it, and a
// database that does not answer is a 503 with the Redis detail too.
func TestReadyz_Redis(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status func() string
		want   string
	}{
		{"Unused", nil, "unused"},
		{"OK", func() string { return "ok" }, "ok"},
		{"Degraded", func() string { return "degraded" }, "degraded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(o *pihuhttp.Options) { o.RedisStatus = tc.status })
			check := func(wantStatus int, wantDB string) {
				t.Helper()
				r := ts.do(t, "GET", "/readyz", "", "")
				var body map[string]string
				r.decode(t, &body)
				if r.status != wantStatus || body["redis"] != tc.want || body["database"] != wantDB {
					t.Errorf("got %d %s, want %d with database %q and redis %q", r.status, r.body, wantStatus, wantDB, tc.want)
				}
			}
			check(http.StatusOK, "ok")
			ts.Store.Close()
			check(http.StatusServiceUnavailable, "unreachable")
		})
	}
}
