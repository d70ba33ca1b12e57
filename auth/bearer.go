package auth

import (
	"strings"

	"github.com/pihu-ai/pihu"
)

// BearerToken returns the token of an Authorization header of the Bearer
// scheme (RFC 6750 §2.1; the scheme is case-insensitive).
//
// A header without credentials of that scheme is EMissingAPIKey, which
// gets a plain challenge (RFC 6750 §3.1: no error code for a request
// without authentication information): an empty header, "Bearer" with
// nothing after it, or another scheme ("Basic …"), or a key without the
// scheme. A Bearer header that is malformed is EParameterInvalid on
// "Authorization", a 400 whose challenge says error="invalid_request":
// two credentials joined by a comma (as a proxy may join two headers),
// anything after the token, or a token that is not a b64token.
func BearerToken(header string) (string, error) {
	if header == "" {
		return "", pihu.Errorf(pihu.EMissingAPIKey, "No API key was given. Send it as the header Authorization: Bearer YOUR_API_KEY.")
	}
	if strings.EqualFold(strings.TrimSpace(header), "Bearer") {
		return "", pihu.Errorf(pihu.EMissingAPIKey, "No API key was given after \"Bearer\". Send it as the header Authorization: Bearer YOUR_API_KEY.")
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		if _, isKey := pihu.ParseSecret(strings.TrimSpace(header)); isKey {
			return "", pihu.Errorf(pihu.EMissingAPIKey, "The Authorization header holds a key without the Bearer scheme; send it as \"Authorization: Bearer YOUR_API_KEY\".")
		}
		return "", pihu.Errorf(pihu.EMissingAPIKey, "The Authorization header is not of the Bearer scheme, the only one this API takes; send \"Authorization: Bearer YOUR_API_KEY\".")
	}
	token = strings.TrimLeft(token, " ")
	if isB64Token(token) {
		return token, nil
	}
	// What is wrong with it, for the answer.
	if strings.Contains(token, ",") {
		// No token has a comma (RFC 6750's b64token): this is two
		// credentials in one header, "Bearer a, Bearer b".
		return "", pihu.ParamErrorf(pihu.EParameterInvalid, "Authorization",
			"The Authorization header holds more than one credential; send exactly one, \"Authorization: Bearer YOUR_API_KEY\".")
	}
	if strings.ContainsAny(token, " \t") {
		return "", pihu.ParamErrorf(pihu.EParameterInvalid, "Authorization",
			"The Authorization header must read \"Bearer YOUR_API_KEY\", with nothing after the key.")
	}
	return "", pihu.ParamErrorf(pihu.EParameterInvalid, "Authorization",
		"The token of the Authorization header has a character no API key or access token has; send \"Authorization: Bearer YOUR_API_KEY\".")
}

// isB64Token reports whether s is a b64token of RFC 6750 §2.1:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		if !b64TokenChar[body[i]] {
			return false
		}
	}
	return true
}

// b64TokenChar holds the characters of a b64token before its "="s: a
// table, since an access token has hundreds of them.
var b64TokenChar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", byte(c)) >= 0
	}
	return t
}()
