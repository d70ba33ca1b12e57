package logbuf_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/logbuf"
)

// slogLine is the line slog's own handler writes for r: what RequestLog
// must reproduce byte for byte.
func slogLine(t testing.TB, r *logbuf.Request, json bool) string {
	var buf bytes.Buffer
	var h slog.Handler = slog.NewTextHandler(&buf, nil)
	if json {
		h = slog.NewJSONHandler(&buf, nil)
	}
	rec := slog.NewRecord(r.Time, slog.LevelInfo, "request", 0)
	rec.AddAttrs(
		slog.String("request_id", r.ID),
		slog.String("method", r.Method),
		slog.String("path", r.Path),
		slog.Int("status", r.Status),
		slog.Duration("duration", r.Duration),
		slog.String("ip", r.IP),
	)
	if r.KeyID != "" || r.AccountID != "" {
		rec.AddAttrs(slog.String("key_id", r.KeyID), slog.String("account_id", r.AccountID))
		if r.TokenID != "" {
			rec.AddAttrs(slog.String("token_id", r.TokenID))
		}
	}
	if err := h.Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func checkLine(t *testing.T, r *logbuf.Request) {
	t.Helper()
	for _, json := range []bool{false, true} {
		var buf bytes.Buffer
		if err := logbuf.NewRequestLog(&buf, json).Log(r); err != nil {
			t.Fatal(err)
		}
		if got, want := buf.String(), slogLine(t, r, json); got != want {
			t.Errorf("json=%v:\n got %q\nwant %q", json, got, want)
		}
	}
}

// TestRequestLog_AsSlog: the hand-written line is slog's, in text and in
// JSON, for plain requests, authenticated ones, and values that need
// quoting or escaping.
func TestRequestLog_AsSlog(t *testing.T) {
	now := time.Date(2026, 11, 27, 11, 5, 11, 123456789, time.UTC)
	for _, r := range []logbuf.Request{
		{Time: now, ID: "req_2Jd8", Method: "GET", Path: "/healthz", Status: 200, Duration: 12345 * time.Nanosecond, IP: "127.0.0.1"},
		{Time: now.Add(time.Hour), ID: "req_x", Method: "GET", Path: "/v1/auth/whoami", Status: 200, Duration: 3 * time.Millisecond, IP: "::1", KeyID: "key_1", AccountID: "acc_1"},
		{Time: now, ID: "req_y", Method: "POST", Path: "/v1/auth/tokens", Status: 201, Duration: 2*time.Second + 5, IP: "10.0.0.1", KeyID: "key_1", AccountID: "acc_1", TokenID: "tok_1"},
		{Time: now, ID: "", Method: "BR EW", Path: "/a=b/\"q\"/\\/é/\u2028/\x00/\xff", Status: 404, Duration: 0, IP: "2001:db8::1"},
		{Time: now, ID: "req_z", Method: "GET", Path: "/<script>&/\t\n\r", Status: 999, Duration: -time.Minute, IP: "1.2.3.4"},
		{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600+1800)), ID: "r", Method: "GET", Path: "/", Status: 500, Duration: 100 * time.Hour, IP: "x"},
		{ID: "no time", Method: "GET", Path: "/", Status: 200, IP: "x"},
		{Time: time.Now(), ID: "monotonic", Method: "GET", Path: "/", Status: 200, Duration: time.Microsecond, IP: "x"},
	} {
		checkLine(t, &r)
	}
}

// FuzzRequestLog: any request line is slog's.
func FuzzRequestLog(f *testing.F) {
	f.Add("req_1", "GET", "/v1/auth/whoami", 200, int64(12345), "127.0.0.1", "key_1", "acc_1", "", int64(0))
	f.Add("", "P O", "/a=b\"\\\x00\xff\u2028é\u00a0", 404, int64(-1), "::1", "", "", "tok", int64(1e18))
	f.Fuzz(func(t *testing.T, id, method, path string, status int, dur int64, ip, keyID, accountID, tokenID string, unix int64) {
		// Each time in UTC, in a zone of its own, and in a second zone
		// (the date and zone of the last second are kept).
		tm := time.Unix(0, unix).In(zones[uint64(unix)%uint64(len(zones))])
		r := logbuf.Request{
			Time: tm, ID: id, Method: method, Path: path, Status: status,
			Duration: time.Duration(dur), IP: ip, KeyID: keyID, AccountID: accountID, TokenID: tokenID,
		}
		if y := r.Time.Year(); y < 0 || y >= 10000 {
			return // slog's JSON writes an error instead of such a time
		}
		checkLine(t, &r)
	})
}

var zones = []*time.Location{time.UTC, time.FixedZone("A", 5*3600+1800), time.FixedZone("B", -7*3600), time.Local}

// TestRequestLog_Times: lines of the same second, of the next, in another
// zone and back have the times slog writes (the date and zone of the last
// second are kept and must not leak into the next).
func TestRequestLog_Times(t *testing.T) {
	base := time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
	for _, d := range []time.Duration{0, 1, 999_999, time.Millisecond, 120_500_000, 999_999_999, time.Second, time.Second + 1, -1, time.Hour + 7} {
		for _, loc := range zones {
			checkLine(t, &logbuf.Request{Time: base.Add(d).In(loc), ID: "r", Method: "GET", Path: "/", Status: 200, IP: "x"})
		}
	}
	for _, y := range []int{1, 999, 1000, 9999} {
		checkLine(t, &logbuf.Request{Time: time.Date(y, 1, 2, 3, 4, 5, 6_000_000, time.UTC), ID: "r", Method: "GET", Path: "/", Status: 200, IP: "x"})
	}
}

// TestRequestLog_NoAllocs: a line costs no allocation once the buffers
// are warm.
func TestRequestLog_NoAllocs(t *testing.T) {
	r := logbuf.Request{Time: time.Now(), ID: "req_2Jd8", Method: "GET", Path: "/v1/auth/whoami", Status: 200,
		Duration: 12345 * time.Nanosecond, IP: "127.0.0.1", KeyID: "key_1", AccountID: "acc_1"}
	for _, json := range []bool{false, true} {
		l := logbuf.NewRequestLog(io.Discard, json)
		if n := testing.AllocsPerRun(1000, func() { l.Log(&r) }); n != 0 {
			t.Errorf("json=%v: %v allocations a line, want 0", json, n)
		}
	}
}

// BenchmarkRequestLog compares the hand-written line with slog's handler
// through a Logger, as ServeHTTP used it.
func BenchmarkRequestLog(b *testing.B) {
	r := logbuf.Request{Time: time.Now(), ID: "req_2Jd8", Method: "GET", Path: "/v1/auth/whoami", Status: 200,
		Duration: 12345 * time.Nanosecond, IP: "127.0.0.1", KeyID: "key_1", AccountID: "acc_1"}
	for _, json := range []bool{false, true} {
		name := "Text"
		if json {
			name = "JSON"
		}
		b.Run(name+"/RequestLog", func(b *testing.B) {
			l := logbuf.NewRequestLog(io.Discard, json)
			b.ReportAllocs()
			for b.Loop() {
				l.Log(&r)
			}
		})
		b.Run(name+"/Slog", func(b *testing.B) {
			var h slog.Handler = slog.NewTextHandler(io.Discard, nil)
			if json {
				h = slog.NewJSONHandler(io.Discard, nil)
			}
			logger := slog.New(h)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				logger.LogAttrs(ctx, slog.LevelInfo, "request",
					slog.String("request_id", r.ID), slog.String("method", r.Method), slog.String("path", r.Path),
					slog.Int("status", r.Status), slog.Duration("duration", r.Duration), slog.String("ip", r.IP),
					slog.String("key_id", r.KeyID), slog.String("account_id", r.AccountID))
			}
		})
	}
}
