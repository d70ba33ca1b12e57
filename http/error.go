package http

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"

	"github.com/pihu-ai/pihu"
)

// ErrorBody is the JSON body of every error response (pihu.ErrorBody).
type ErrorBody = pihu.ErrorBody

// ErrorObject is the `error` member of an ErrorBody.
type ErrorObject = pihu.ErrorObject

// statusOf is the HTTP status of error code code (pihu.ErrorStatus).
func statusOf(code string) int {
	s, _ := pihu.ErrorStatus(code)
	return s
}

// writeError writes err as the error body of SPEC §5 with its status and
// headers. An error that is not a *pihu.Error is logged and shown as
// "Internal error." only.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := s.errorResponse(w, r, err)
	writeJSON(w, status, body)
}

// errorResponse is the status and body of the error response of err, as
// writeError writes them; it sets the response's headers (the challenge,
// and Retry-After or Accept-Post where they apply), and logs a fault.
func (s *Server) errorResponse(w http.ResponseWriter, r *http.Request, err error) (int, ErrorBody) {
	status, body := pihu.NewErrorBody(err, requestID(r.Context()))
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		info.code = codeIndex[body.Error.Code] // for the request log
	}
	if body.Error.Code == pihu.EInternal {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", body.Error.RequestID), slog.String("err", pihu.MaskSecrets(err.Error())))
	}
	// A 503 is not logged: an outage would log every request it fails. The
	// store's guard logs each change of its state, with counts (see
	// package guard), and the request's own line has its status.
	var buf [3]pihu.Header
	setHeaders(w.Header(), pihu.AppendErrorHeaders(buf[:0], status, body))
	return status, body
}

// setHeaders sets each of hs on h, replacing any value it had; the names
// are canonical, so they go straight into the map. The values share one
// allocation, each a slice at its capacity, which an Add would copy.
func setHeaders(h http.Header, hs []pihu.Header) {
	if len(hs) == 0 {
		return
	}
	vs := make([]string, len(hs))
	for i, f := range hs {
		vs[i] = f.Value
		h[f.Name] = vs[i : i+1 : i+1]
	}
}

// writeJSON writes v as the JSON response body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	e := getEncoder()
	defer putEncoder(e)
	if err := e.enc.Encode(v); err != nil {
		// Only a programming error gets here: every response type
		// marshals.
		http.Error(w, `{"error":{"type":"api_error","code":"internal","message":"Internal error."}}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(e.buf.Bytes())
}

// encoder is a JSON encoder writing to its own buffer, kept between
// responses: Encode writes v as json.Marshal does, followed by a newline,
// without Marshal's copy of the bytes and a second one for the newline.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := new(encoder)
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

func getEncoder() *encoder { return encoders.Get().(*encoder) }

// putEncoder keeps e for another response, unless a large one grew its
// buffer: a list of keys should not hold its memory for a whoami.
func putEncoder(e *encoder) {
	if e.buf.Cap() > 64<<10 {
		return
	}
	e.buf.Reset()
	encoders.Put(e)
}
