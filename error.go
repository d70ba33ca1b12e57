package pihu

import (
	"errors"
	"fmt"
)

// Error codes. Each is the `error.code` of the API's error body; the HTTP
// layer maps each to one status and one `error.type` in a single table.
const (
	EInvalidJSON      = "invalid_json"
	EParameterMissing = "parameter_missing"
	EParameterInvalid = "parameter_invalid"
	EParameterUnknown = "parameter_unknown"
	EMissingAPIKey    = "missing_api_key"
	EInvalidAPIKey    = "invalid_api_key"
	// EInvalidSignature is a signed report (GitHub's secret scanning)
	// whose signature is missing, malformed, or not the named key's.
	EInvalidSignature = "invalid_signature"
	EExpiredAPIKey    = "expired_api_key"
	ERevokedAPIKey    = "revoked_api_key"
	// EDisabledAPIKey is a key disabled with PATCH (enabled: false), or
	// an access token minted from one: refused until the key is enabled
	// again. Unlike a revocation it can be undone.
	EDisabledAPIKey          = "disabled_api_key"
	EInsufficientPermissions = "insufficient_permissions"
	EIPNotAllowed            = "ip_not_allowed"
	ENotFound                = "not_found"
	EMethodNotAllowed        = "method_not_allowed"
	EBodyTooLarge            = "body_too_large"
	EUnsupportedMediaType    = "unsupported_media_type"
	ERateLimited             = "rate_limited"
	EAlreadyRotated          = "already_rotated"
	// EUsageExceeded is a key whose usage credits are spent (see
	// Credits): it works again at its next refill, or when credits are
	// added.
	EUsageExceeded = "usage_exceeded"
	// EKeyExists is a key imported with the hash of a key stored
	// already.
	EKeyExists = "key_exists"
	// EPermissionExists is a permission defined twice (see
	// PermissionStore).
	EPermissionExists = "permission_exists"
	// EPermissionInUse is the deletion, without force, of a defined
	// permission that keys still hold (Error.KeyCount of them).
	EPermissionInUse = "permission_in_use"
	// ERoleExists is a second role of an account with the same name
	// (see RoleStore).
	ERoleExists = "role_exists"
	// ERoleInUse is the deletion, without force, of a role that keys
	// still hold (Error.KeyCount of them).
	ERoleInUse = "role_in_use"
	// EIdentityExists is a second identity of an account and
	// environment with the same external_id (see IdentityStore).
	EIdentityExists = "identity_exists"
	// EIdentityInUse is the deletion, without revoke_keys, of an
	// identity that active keys have (Error.KeyCount of them).
	EIdentityInUse = "identity_in_use"
	EInternal      = "internal"
	// EUnavailable is a dependency (the database) that cannot be reached
	// or did not answer in time: the request may work if sent again in a
	// few seconds, so it is a 503, not a 500.
	EUnavailable = "unavailable"
)

// Error codes of idempotent requests (see IdempotencyStore).
const (
	// EIdempotencyKeyReused is an Idempotency-Key sent again, within
	// IdempotencyTTL, with another request (method, path or body).
	EIdempotencyKeyReused = "idempotency_key_reused"
	// EIdempotencyKeyInUse is an Idempotency-Key whose first request is
	// still running.
	EIdempotencyKeyInUse = "idempotency_key_in_use"
)

// Error is a failure the caller can act on: its Message is shown to API
// users as it is, so it never holds internals or secrets.
type Error struct {
	Code    string // one of the E… constants
	Message string // a sentence a person can act on
	Param   string // the request field at fault, if any
	// Required is the permission that was missing, for
	// EInsufficientPermissions.
	Required string
	// KeyCount is the number of keys that hold the permission or role,
	// for EPermissionInUse and ERoleInUse; the active keys of the
	// identity for EIdentityInUse.
	KeyCount int
}

func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("pihu: %s (%s): %s", e.Code, e.Param, e.Message)
	}
	return fmt.Sprintf("pihu: %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ParamErrorf returns an *Error about one request field.
func ParamErrorf(code, param, format string, args ...any) *Error {
	return &Error{Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is, or wraps, an *Error, and
// EInternal for anything else (nil included is "").
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the message of err if it is, or wraps, an *Error;
// anything else is "Internal error." so that no internal detail leaks. Like
// ErrorCode, it returns "" for a nil error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
