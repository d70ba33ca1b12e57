package logbuf

import (
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pihu-ai/pihu/internal/jsonstr"
)

// Request is the line logged for one request. Empty KeyID, AccountID and
// TokenID are left out of the line.
type Request struct {
	Time      time.Time
	ID        string // request_id
	Method    string
	Path      string
	Status    int
	Duration  time.Duration
	IP        string
	KeyID     string
	AccountID string
	TokenID   string
}

// RequestLog writes one line a request, byte for byte the line that
// slog's TextHandler or JSONHandler (with default options) writes for
//
//	logger.LogAttrs(ctx, slog.LevelInfo, "request",
//		slog.String("request_id", …), slog.String("method", …), slog.String("path", …),
//		slog.Int("status", …), slog.Duration("duration", …), slog.String("ip", …),
//		[slog.String("key_id", …), slog.String("account_id", …), [slog.String("token_id", …)]])
//
// but appended by hand into a reused buffer: slog's generic path (the
// record, its attributes, the caller's program counter, the handler's
// state) costs several times the line itself on a request that does
// little else. It is safe for concurrent use; each line is one Write.
type RequestLog struct {
	w    io.Writer
	json bool
	bufs sync.Pool // *[]byte
}

// NewRequestLog returns a RequestLog writing to w in slog's text format,
// or in its JSON format if json is true. w is typically a Writer, which
// batches the lines.
func NewRequestLog(w io.Writer, json bool) *RequestLog {
	return &RequestLog{w: w, json: json, bufs: sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}}
}

// Log writes the line of r.
func (l *RequestLog) Log(r *Request) error {
	bp := l.bufs.Get().(*[]byte)
	b := l.Append((*bp)[:0], r)
	_, err := l.w.Write(b)
	if cap(b) <= 4<<10 { // keep the buffers of ordinary lines only
		*bp = b
		l.bufs.Put(bp)
	}
	return err
}

// Append appends the line of r, newline included, to b.
func (l *RequestLog) Append(b []byte, r *Request) []byte {
	if l.json {
		return appendJSONLine(b, r)
	}
	return appendTextLine(b, r)
}

func appendTextLine(b []byte, r *Request) []byte {
	if !r.Time.IsZero() {
		b = append(b, "time="...)
		b = appendTime(b, r.Time.Round(0), false)
		b = append(b, ' ')
	}
	b = append(b, "level=INFO msg=request request_id="...)
	b = appendTextString(b, r.ID)
	b = append(b, " method="...)
	b = appendTextString(b, r.Method)
	b = append(b, " path="...)
	b = appendTextString(b, r.Path)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, " duration="...)
	b = append(b, r.Duration.String()...)
	b = append(b, " ip="...)
	b = appendTextString(b, r.IP)
	if r.KeyID != "" || r.AccountID != "" {
		b = append(b, " key_id="...)
		b = appendTextString(b, r.KeyID)
		b = append(b, " account_id="...)
		b = appendTextString(b, r.AccountID)
		if r.TokenID != "" {
			b = append(b, " token_id="...)
			b = appendTextString(b, r.TokenID)
		}
	}
	return append(b, '\n')
}

func appendJSONLine(b []byte, r *Request) []byte {
	b = append(b, '{')
	if !r.Time.IsZero() {
		b = append(b, `"time":"`...)
		b = appendTime(b, r.Time.Round(0), true)
		b = append(b, `",`...)
	}
	b = append(b, `"level":"INFO","msg":"request","request_id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, r.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, int64(r.Duration), 10)
	b = append(b, `,"ip":`...)
	b = appendJSONString(b, r.IP)
	if r.KeyID != "" || r.AccountID != "" {
		b = append(b, `,"key_id":`...)
		b = appendJSONString(b, r.KeyID)
		b = append(b, `,"account_id":`...)
		b = appendJSONString(b, r.AccountID)
		if r.TokenID != "" {
			b = append(b, `,"token_id":`...)
			b = appendJSONString(b, r.TokenID)
		}
	}
	return append(b, "}\n"...)
}

// appendTime appends t as slog's text handler does (RFC 3339 with
// milliseconds), or as its JSON handler does (RFC 3339 with nanoseconds,
// trailing zeros dropped). Formatting the date and the zone was most of a
// line's cost, so they are kept for the second they are of: every line of
// the same second and location reuses them.
func appendTime(b []byte, t time.Time, json bool) []byte {
	sec, loc := t.Unix(), t.Location()
	c := lastSecond.Load()
	if c == nil || c.sec != sec || c.loc != loc {
		if y := t.Year(); y < 1000 || y > 9999 {
			if json {
				return t.AppendFormat(b, time.RFC3339Nano)
			}
			return appendRFC3339Millis(b, t)
		}
		f := t.Truncate(time.Second).AppendFormat(nil, time.RFC3339) // 2006-01-02T15:04:05Z07:00
		c = &second{sec: sec, loc: loc, date: string(f[:19]), zone: string(f[19:])}
		lastSecond.Store(c)
	}
	b = append(b, c.date...)
	ns := t.Nanosecond()
	if json {
		if ns != 0 {
			var frac [10]byte
			frac[0] = '.'
			for i, n := 9, ns; i > 0; i-- {
				frac[i] = byte('0' + n%10)
				n /= 10
			}
			end := 10
			for frac[end-1] == '0' {
				end--
			}
			b = append(b, frac[:end]...)
		}
	} else {
		ms := ns / 1e6
		b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	}
	return append(b, c.zone...)
}

// second is the formatted date (to the second) and zone of one second in
// one location.
type second struct {
	sec        int64
	loc        *time.Location
	date, zone string
}

var lastSecond atomic.Pointer[second]

// appendRFC3339Millis is slog's text time: RFC 3339 with exactly three
// digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the 4th digit
}

// appendTextString appends s as slog's text handler does: as is, or
// quoted (strconv.Quote) if it is empty or has a space, '=', '"', a
// control character or anything not printable.
func appendTextString(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c != '\\' && (c == ' ' || c == '=' || !safeSet[c]) {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// appendJSONString appends s as a JSON string the way slog's JSON
// handler does.
func appendJSONString(b []byte, s string) []byte { return jsonstr.Append(b, s, false) }

// safeSet is true for the ASCII characters a JSON string holds as they
// are: all but the control characters (0–31), '"' and '\' (as
// encoding/json's and slog's tables).
var safeSet = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
