package http_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/logbuf"
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

// TestServer_RequestLog: the lines of Options.RequestLog (serve's) are the
// lines the slog handler of the same format writes through AccessLog: the
// same fields in the same order with the same values, the key's ids for
// an authenticated request, and a key pasted into the method or the path
// masked; only the time, the request id and the duration differ.
func TestServer_RequestLog(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var viaSlog, viaRequestLog bytes.Buffer
			slogServer := newTestServer(t, func(o *pihuhttp.Options) {
				w := &lockedWriter{w: &viaSlog}
				if format == "json" {
					o.AccessLog = slog.New(slog.NewJSONHandler(w, nil))
				} else {
					o.AccessLog = slog.New(slog.NewTextHandler(w, nil))
				}
			})
			fastServer := newTestServer(t, func(o *pihuhttp.Options) {
				o.RequestLog = logbuf.NewRequestLog(&lockedWriter{w: &viaRequestLog}, format == "json")
			})
			secret := pihu.NewSecret(pihu.Live)
			for _, ts := range []*testServer{slogServer, fastServer} {
				ts.do(t, "GET", "/healthz", "", "")
				ts.do(t, "GET", "/v1/auth/whoami", ts.Owner, "")
				ts.do(t, "GET", "/v1/auth/whoami", secret, "")
				ts.do(t, "GET", "/v1/auth/api-keys/"+secret, ts.Owner, "")
				ts.do(t, secret, "/v1/auth/api-keys", ts.Owner, "")
				ts.Close()
			}
			a, b := requestLines(t, viaSlog.String(), format), requestLines(t, viaRequestLog.String(), format)
			if len(a) != 5 || len(b) != 5 {
				t.Fatalf("got %d and %d request lines, want 5 each:\n%s\n%s", len(a), len(b), viaSlog.String(), viaRequestLog.String())
			}
			for i := range a {
				if !slices.Equal(a[i], b[i]) {
					t.Errorf("line %d:\n slog:       %v\n RequestLog: %v", i, a[i], b[i])
				}
				if strings.Contains(strings.Join(b[i], " "), secret[len("ph_live_"):]) {
					t.Errorf("line %d holds the key: %v", i, b[i])
				}
			}
			if !slices.Contains(b[1], "key_id") || !slices.Contains(b[1], "account_id") {
				t.Errorf("whoami's line has no key: %v", b[1])
			}
		})
	}
}

var logfmtField = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S*)`)

// requestLines returns the request lines of a log as their fields, name
// then value, the values that differ from one server to another (time,
// request id, duration, ids) replaced by their name.
func requestLines(t *testing.T, log, format string) [][]string {
	t.Helper()
	varying := map[string]bool{"time": true, "request_id": true, "duration": true, "key_id": true, "account_id": true}
	var lines [][]string
	for line := range strings.Lines(log) {
		var fields []string
		if format == "json" {
			dec := json.NewDecoder(strings.NewReader(line))
			dec.UseNumber()
			tok, err := dec.Token() // {
			if err != nil || tok != json.Delim('{') {
				t.Fatalf("not a JSON line: %q", line)
			}
			for dec.More() {
				name, _ := dec.Token()
				var v any
				if err := dec.Decode(&v); err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				value, ok := v.(string)
				if !ok {
					b, _ := json.Marshal(v)
					value = string(b)
				}
				fields = append(fields, name.(string), value)
			}
		} else {
			for _, m := range logfmtField.FindAllStringSubmatch(line, -1) {
				fields = append(fields, m[1], m[2])
			}
		}
		if !slices.Contains(fields, "request") {
			continue
		}
		for i := 0; i+1 < len(fields); i += 2 {
			if varying[fields[i]] {
				fields[i+1] = fields[i]
			}
		}
		lines = append(lines, fields)
	}
	return lines
}
