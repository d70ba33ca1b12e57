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
	pihu.EInvalidSignature:        {http.StatusUnauthorized, "authentication_error"},
	pihu.EInsufficientPermissions: {http.StatusForbidden, "permission_error"},
	pihu.EIPNotAllowed:            {http.StatusForbidden, "permission_error"},
	pihu.EUsageExceeded:           {http.StatusForbidden, "permission_error"},
	pihu.EKeyExists:               {http.StatusConflict, "invalid_request_error"},
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
	if code == pihu.EUnsupportedMediaType {
		// Every route that takes a body is a POST of JSON.
		w.Header().Set("Accept-Post", "application/json")
	}
	if c.status == http.StatusServiceUnavailable {
		// Not logged: an outage would log every request it fails. The
		// store's guard logs each change of its state, with counts (see
		// package guard), and the request's own line has its status.
		w.Header().Set("Retry-After", unavailableRetryAfter)
	}
	if v := challenge(code, obj); v != "" {
		w.Header().Set("WWW-Authenticate", v)
	}
	writeJSON(w, c.status, ErrorBody{Error: obj})
}

// challenge is the WWW-Authenticate header of an error (RFC 6750 §3), or
// "" for none: a plain challenge when no credentials of the Bearer scheme
// were given; error="invalid_token" for a key or token that is not valid;
// error="invalid_request" (400) for a malformed Authorization header;
// error="insufficient_scope" with the scope for a missing permission. A
// key used from an address it is not allowed gets none: no scope or
// token can cure it; nor does a secret scanning report with a bad
// signature, which is not of the Bearer scheme. Each error code comes with its error_description,
// the error body's message, which never holds a key.
func challenge(code string, obj ErrorObject) string {
	const plain = `Bearer realm="pihu"`
	switch {
	case code == pihu.EMissingAPIKey:
		return plain
	case code == pihu.EInvalidSignature:
		return "" // a signed report, not the Bearer scheme
	case codes[code].status == http.StatusUnauthorized:
		return plain + `, error="invalid_token", error_description=` + authParam(obj.Message)
	case codes[code].status == http.StatusBadRequest && obj.Param == "Authorization":
		return plain + `, error="invalid_request", error_description=` + authParam(obj.Message)
	case code == pihu.EInsufficientPermissions:
		v := plain + `, error="insufficient_scope", error_description=` + authParam(obj.Message)
		if obj.Required != "" {
			v += `, scope=` + authParam(obj.Required)
		}
		return v
	}
	return ""
}

// authParam quotes s as the value of a challenge's error_description or
// scope: RFC 6750 §3 allows only printable ASCII without '"' and '\' in
// them, so a double quote becomes a single one, a backslash a slash, and
// any other character outside that set a '?'. The result needs no
// escaping in a quoted-string.
func authParam(s string) string {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			b = append(b, '\'')
		case r == '\\':
			b = append(b, '/')
		case r == '…':
			b = append(b, "..."...)
		case r < 0x20 || r > 0x7e:
			b = append(b, '?')
		default:
			b = append(b, byte(r))
		}
	}
	return string(append(b, '"'))
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
