package http

import (
	"net/http"
	"sync"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/jsonstr"
)

// The bodies of the hot endpoints are appended by hand: json.Marshal's
// reflection cost more than the rest of whoami's handler. Each is tested
// byte for byte against json.Marshal of the response type it stands for.

// writeJSONBody writes body, JSON ending in a newline, with status and the
// headers writeJSON sets.
func writeJSONBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	// Shared values, each with no room to grow: an Add on them copies,
	// so no response can change another's.
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = cacheControlNoStore
	w.WriteHeader(status)
	w.Write(body)
}

// bodyBufs are the buffers bodies are appended into; Write copies the
// body out before the buffer goes back.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

var (
	contentTypeJSON     = []string{"application/json"}[:1:1]
	cacheControlNoStore = []string{"no-store"}[:1:1]
)

// healthzBody is json.Marshal(map[string]string{"status": "ok"}) and a
// newline.
var healthzBody = []byte(`{"status":"ok"}` + "\n")

// appendWhoami appends whoami's body for k and its account a: what
// writeJSON writes for a whoamiResponse.
func appendWhoami(b []byte, k *pihu.Key, a *pihu.Account) []byte {
	b = append(b, `{"key":{"id":`...)
	b = appendJSONString(b, k.ID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, k.Name)
	b = append(b, `,"permissions":[`...)
	for i, p := range k.Permissions {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, string(p))
	}
	b = append(b, `],"environment":`...)
	b = appendJSONString(b, string(k.Environment))
	b = append(b, `,"expires":`...)
	if k.Expires == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = pihu.Timestamp(*k.Expires).AppendFormat(b, time.RFC3339)
		b = append(b, '"')
	}
	b = append(b, `},"account":{"id":`...)
	b = appendJSONString(b, a.ID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, a.Name)
	return append(b, "}}\n"...)
}

// appendJSONString appends s as encoding/json writes a string.
func appendJSONString(b []byte, s string) []byte { return jsonstr.Append(b, s, true) }
