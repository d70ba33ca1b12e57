package http_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// TestServer_AccessLog: the request lines go to Options.AccessLog when it
// is set, the server's other lines to Logger; a disabled AccessLog logs no
// request at all.
func TestServer_AccessLog(t *testing.T) {
	get := func(t *testing.T, ts *testServer) {
		t.Helper()
		resp, err := http.Get(ts.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	t.Run("Separate", func(t *testing.T) {
		access := &bytes.Buffer{}
		ts := newTestServer(t, func(o *pihuhttp.Options) {
			o.AccessLog = slog.New(slog.NewJSONHandler(&lockedWriter{w: access}, nil))
		})
		get(t, ts)
		ts.Close()
		if got := access.String(); !strings.Contains(got, `"msg":"request"`) || !strings.Contains(got, `"path":"/healthz"`) {
			t.Errorf("access log: got %q, want the request in JSON", got)
		}
		if strings.Contains(ts.logs.String(), "msg=request") {
			t.Errorf("the server's log has the request line too:\n%s", ts.logs.String())
		}
	})
	t.Run("Off", func(t *testing.T) {
		ts := newTestServer(t, func(o *pihuhttp.Options) { o.AccessLog = slog.New(slog.DiscardHandler) })
		get(t, ts)
		ts.Close()
		if strings.Contains(ts.logs.String(), "msg=request") {
			t.Errorf("a request was logged with the access log off:\n%s", ts.logs.String())
		}
	})
	t.Run("DefaultIsLogger", func(t *testing.T) {
		ts := newTestServer(t)
		get(t, ts)
		ts.Close()
		if !strings.Contains(ts.logs.String(), "msg=request") {
			t.Errorf("no request line in the server's log:\n%s", ts.logs.String())
		}
	})
}
