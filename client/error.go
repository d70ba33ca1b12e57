package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
)

// Error is an error the API answered: its HTTP status and the fields of
// its error body. Use errors.As to get it and switch on Code.
type Error struct {
	// StatusCode is the HTTP status, such as 404.
	StatusCode int
	// Type is the kind of failure: invalid_request_error,
	// authentication_error, permission_error, rate_limit_error or
	// api_error.
	Type string
	// Code says what went wrong, for programs: not_found,
	// invalid_api_key, insufficient_permissions, … (see the API's
	// reference).
	Code string
	// Message is a sentence a person can act on.
	Message string
	// Param is the request field at fault, if any.
	Param string
	// Required is the permission the key lacks, for
	// insufficient_permissions.
	Required string
	// KeyCount is how many keys hold the permission or role, for
	// permission_in_use and role_in_use.
	KeyCount int
	// RequestID identifies the request in the server's log.
	RequestID string
	// RetryAfter is how long to wait before trying again, for a 429.
	RetryAfter time.Duration
}

// Error returns the code, status, message, param and request id in one
// line, such as `not_found (404): There is no API key "key_x". [request
// req_…]`. Anything shaped like an API key in the message is masked.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Code != "" {
		b.WriteString(e.Code + " ")
	}
	fmt.Fprintf(&b, "(%d)", e.StatusCode)
	if e.Message != "" {
		b.WriteString(": " + pihu.MaskSecrets(e.Message))
	}
	if e.Param != "" {
		fmt.Fprintf(&b, " [param %s]", e.Param)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request %s]", e.RequestID)
	}
	return b.String()
}

// newError reads an error response. A body that is not the API's error
// body (a proxy's page, say) still gives an *Error, with the status.
func newError(res *http.Response, raw []byte) *Error {
	var body struct {
		Error struct {
			Type      string `json:"type"`
			Code      string `json:"code"`
			Message   string `json:"message"`
			Param     string `json:"param"`
			Required  string `json:"required"`
			KeyCount  int    `json:"key_count"`
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	e := &Error{StatusCode: res.StatusCode, RequestID: res.Header.Get("Request-Id")}
	if err := json.Unmarshal(raw, &body); err != nil || body.Error.Code == "" {
		e.Message = "unexpected response: " + res.Status
	} else {
		b := body.Error
		e.Type, e.Code, e.Message, e.Param, e.Required, e.KeyCount = b.Type, b.Code, b.Message, b.Param, b.Required, b.KeyCount
		if b.RequestID != "" {
			e.RequestID = b.RequestID
		}
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}
