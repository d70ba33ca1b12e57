package http

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/pihu-ai/pihu"
)

// codes maps each error code to its HTTP status and the error body's
// `type`: the one table that decides how a failure looks on the wire.
var codes = map[string]struct {
	status int
	typ    string
}{
	pihu.EInvalidJSON:             {http.StatusBadRequest, "invalid_request_error"},
	pihu.EParameterMissing:        {http.StatusBadRequest, "invalid_request_error"},
	pihu.EParameterInvalid:        {http.StatusBadRequest, "invalid_request_error"},
	pihu.EParameterUnknown:        {http.StatusBadRequest, "invalid_request_error"},
	pihu.EIdempotencyKeyReused:    {http.StatusBadRequest, "invalid_request_error"},
	pihu.EMissingAPIKey:           {http.StatusUnauthorized, "authentication_error"},
	pihu.EInvalidAPIKey:           {http.StatusUnauthorized, "authentication_error"},
	pihu.EExpiredAPIKey:           {http.StatusUnauthorized, "authentication_error"},
	pihu.ERevokedAPIKey:           {http.StatusUnauthorized, "authentication_error"},
	pihu.EInsufficientPermissions: {http.StatusForbidden, "permission_error"},
	pihu.EIPNotAllowed:            {http.StatusForbidden, "permission_error"},
	pihu.ENotFound:                {http.StatusNotFound, "invalid_request_error"},
	pihu.EIdempotencyKeyInUse:     {http.StatusConflict, "invalid_request_error"},
	pihu.EMethodNotAllowed:        {http.StatusMethodNotAllowed, "invalid_request_error"},
	pihu.EAlreadyRotated:          {http.StatusConflict, "invalid_request_error"},
	pihu.EBodyTooLarge:            {http.StatusRequestEntityTooLarge, "invalid_request_error"},
	pihu.EUnsupportedMediaType:    {http.StatusUnsupportedMediaType, "invalid_request_error"},
	pihu.ERateLimited:             {http.StatusTooManyRequests, "rate_limit_error"},
	pihu.EInternal:                {http.StatusInternalServerError, "api_error"},
	pihu.EUnavailable:             {http.StatusServiceUnavailable, "api_error"},
}

// unavailableRetryAfter is the Retry-After of a 503: a database that did
// not answer is most often back within seconds (a failover, a restart).
const unavailableRetryAfter = "2"

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error ErrorObject `json:"error"`
}

// ErrorObject is the `error` member of an ErrorBody.
type ErrorObject struct {
	Type      string `json:"type"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Param     string `json:"param,omitempty"`
	Required  string `json:"required,omitempty"`
	RequestID string `json:"request_id"`
}

// writeError writes err as the error body of SPEC §5 with its status and
// headers. An error that is not a *pihu.Error is logged and shown as
// "Internal error." only.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := pihu.ErrorCode(err)
	c, ok := codes[code]
	if !ok {
		code, c = pihu.EInternal, codes[pihu.EInternal]
	}
	// A message or a param may quote the caller's input (a field or
	// parameter name is the caller's too); anything in them shaped like a
	// key is masked, so that no error body carries a secret to a log.
	obj := ErrorObject{Type: c.typ, Code: code, Message: pihu.MaskSecrets(pihu.ErrorMessage(err)), RequestID: requestID(r.Context())}
	if e, ok := err.(*pihu.Error); ok {
		obj.Param, obj.Required = pihu.MaskSecrets(e.Param), pihu.MaskSecrets(e.Required)
	}
	if code == pihu.EInternal {
		obj.Message = "Internal error. Try again; if it persists, contact support with the request id."
		s.logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", obj.RequestID), slog.String("err", pihu.MaskSecrets(err.Error())))
	}
	switch c.status {
	case http.StatusServiceUnavailable:
		// The message is safe to show; the cause is for the log.
		s.logger.LogAttrs(r.Context(), slog.LevelWarn, "dependency unavailable",
			slog.String("request_id", obj.RequestID), slog.String("err", pihu.MaskSecrets(err.Error())))
		w.Header().Set("Retry-After", unavailableRetryAfter)
	case http.StatusUnauthorized:
		v := `Bearer realm="pihu"`
		if code != pihu.EMissingAPIKey {
			v += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", v)
	case http.StatusForbidden:
		// Only a missing permission is a scope problem (RFC 6750); a key
		// used from an address it is not allowed is not, and gets no
		// challenge.
		if code != pihu.EInsufficientPermissions {
			break
		}
		v := `Bearer realm="pihu", error="insufficient_scope"`
		if obj.Required != "" {
			v += `, scope="` + obj.Required + `"`
		}
		w.Header().Set("WWW-Authenticate", v)
	}
	writeJSON(w, c.status, ErrorBody{Error: obj})
}

// writeJSON writes v as the JSON response body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a programming error gets here: every response type
		// marshals.
		http.Error(w, `{"error":{"type":"api_error","code":"internal","message":"Internal error."}}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
