package pihu

import (
	"slices"
	"strconv"
)

// The error response of SPEC §5 as every door writes it: the API, its
// forward-auth endpoint for gateways, and Envoy's Check (package
// extauthz) refuse a request with the same status, headers and body, so
// that a client behind a gateway sees the errors of a client calling pihu.

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error ErrorObject `json:"error"`
}

// ErrorObject is the `error` member of an ErrorBody.
type ErrorObject struct {
	Type     string `json:"type"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Param    string `json:"param,omitempty"`
	Required string `json:"required,omitempty"`
	// KeyCount is the number of keys that hold a permission or role
	// whose deletion was refused (permission_in_use, role_in_use).
	KeyCount  int    `json:"key_count,omitempty"`
	RequestID string `json:"request_id"`
}

// errorStatuses maps each error code to its HTTP status and the error
// body's `type`: the one table that decides how a failure looks on the
// wire.
var errorStatuses = map[string]struct {
	status int
	typ    string
}{
	EInvalidJSON:             {400, "invalid_request_error"},
	EParameterMissing:        {400, "invalid_request_error"},
	EParameterInvalid:        {400, "invalid_request_error"},
	EParameterUnknown:        {400, "invalid_request_error"},
	EIdempotencyKeyReused:    {400, "invalid_request_error"},
	EMissingAPIKey:           {401, "authentication_error"},
	EInvalidAPIKey:           {401, "authentication_error"},
	EExpiredAPIKey:           {401, "authentication_error"},
	ERevokedAPIKey:           {401, "authentication_error"},
	EDisabledAPIKey:          {401, "authentication_error"},
	EInvalidSignature:        {401, "authentication_error"},
	EInsufficientPermissions: {403, "permission_error"},
	EIPNotAllowed:            {403, "permission_error"},
	EUsageExceeded:           {403, "permission_error"},
	EKeyExists:               {409, "invalid_request_error"},
	EPermissionExists:        {409, "invalid_request_error"},
	EPermissionInUse:         {409, "invalid_request_error"},
	ERoleExists:              {409, "invalid_request_error"},
	ERoleInUse:               {409, "invalid_request_error"},
	EIdentityExists:          {409, "invalid_request_error"},
	EIdentityInUse:           {409, "invalid_request_error"},
	ENotFound:                {404, "invalid_request_error"},
	EIdempotencyKeyInUse:     {409, "invalid_request_error"},
	EMethodNotAllowed:        {405, "invalid_request_error"},
	EAlreadyRotated:          {409, "invalid_request_error"},
	EBodyTooLarge:            {413, "invalid_request_error"},
	EUnsupportedMediaType:    {415, "invalid_request_error"},
	ERateLimited:             {429, "rate_limit_error"},
	EInternal:                {500, "api_error"},
	EUnavailable:             {503, "api_error"},
}

// ErrorCodes are every error code the API answers with, sorted.
func ErrorCodes() []string {
	codes := make([]string, 0, len(errorStatuses))
	for c := range errorStatuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}

// ErrorStatus returns the HTTP status of error code code and the error
// body's type; a code it does not know is EInternal's, 500 "api_error".
func ErrorStatus(code string) (status int, typ string) {
	c, ok := errorStatuses[code]
	if !ok {
		c = errorStatuses[EInternal]
	}
	return c.status, c.typ
}

// InternalMessage is all an error response says of a fault: the cause is
// for the log.
const InternalMessage = "Internal error. Try again; if it persists, contact support with the request id."

// NewErrorBody returns the error body of err for the request requestID,
// with its HTTP status. A message or a param may quote the caller's input,
// so anything in them shaped like a key is masked: no error body carries a
// secret to a log. An error that is not a *Error is EInternal, and shows
// InternalMessage only; the door logs it.
func NewErrorBody(err error, requestID string) (int, ErrorBody) {
	code := ErrorCode(err)
	status, typ := ErrorStatus(code)
	if _, ok := errorStatuses[code]; !ok {
		code = EInternal
	}
	obj := ErrorObject{Type: typ, Code: code, Message: MaskSecrets(ErrorMessage(err)), RequestID: requestID}
	if e, ok := err.(*Error); ok {
		obj.Param, obj.Required = MaskSecrets(e.Param), MaskSecrets(e.Required)
		obj.KeyCount = e.KeyCount
	}
	if code == EInternal {
		obj.Message = InternalMessage
	}
	return status, ErrorBody{Error: obj}
}

// Header is one header of a response, its name in canonical form.
type Header struct{ Name, Value string }

// UnavailableRetryAfter is the Retry-After of a 503, in seconds: a
// database that did not answer is most often back within seconds (a
// failover, a restart).
const UnavailableRetryAfter = 2

// AppendErrorHeaders appends to dst the headers of an error response of
// status with body b: its challenge (see Challenge), the Retry-After of a
// 503, and the Accept-Post of a 415 (every route that takes a body is a
// POST of JSON).
func AppendErrorHeaders(dst []Header, status int, b ErrorBody) []Header {
	if v := Challenge(status, b.Error); v != "" {
		dst = append(dst, Header{"Www-Authenticate", v})
	}
	switch status {
	case 503:
		dst = append(dst, Header{"Retry-After", strconv.Itoa(UnavailableRetryAfter)})
	case 415:
		dst = append(dst, Header{"Accept-Post", "application/json"})
	}
	return dst
}

// ChallengeRealm is the challenge of a request without credentials of the
// Bearer scheme (RFC 6750 §3.1: no error code, since no token was judged).
const ChallengeRealm = `Bearer realm="pihu"`

// Challenge is the WWW-Authenticate header of an error response of status
// (RFC 6750 §3), or "" for none: a plain challenge when no credentials of
// the Bearer scheme were given; error="invalid_token" for a key or token
// that is not valid; error="invalid_request" (400) for a malformed
// Authorization header; error="insufficient_scope" with the scope for a
// missing permission. A key used from an address it is not allowed gets
// none: no scope or token can cure it; nor does a secret scanning report
// with a bad signature, which is not of the Bearer scheme. Each error code comes with its
// error_description, the error body's message, which never holds a key.
func Challenge(status int, obj ErrorObject) string {
	switch {
	case obj.Code == EMissingAPIKey:
		return ChallengeRealm
	case obj.Code == EInvalidSignature:
		return "" // a signed report, not the Bearer scheme
	case status == 401:
		return ChallengeRealm + `, error="invalid_token", error_description=` + ChallengeParam(obj.Message)
	case status == 400 && obj.Param == "Authorization":
		return ChallengeRealm + `, error="invalid_request", error_description=` + ChallengeParam(obj.Message)
	case obj.Code == EInsufficientPermissions:
		v := ChallengeRealm + `, error="insufficient_scope", error_description=` + ChallengeParam(obj.Message)
		if obj.Required != "" {
			v += `, scope=` + ChallengeParam(obj.Required)
		}
		return v
	}
	return ""
}

// ChallengeParam quotes s as the value of a challenge's error_description
// or scope: RFC 6750 §3 allows only printable ASCII without '"' and '\' in
// them, so a double quote becomes a single one, a backslash a slash, an
// ellipsis three dots, and any other character outside that set a '?'.
// The result needs no escaping in a quoted-string.
func ChallengeParam(s string) string {
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
