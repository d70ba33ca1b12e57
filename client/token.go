package client

import (
	"context"
	"net/http"
	"time"
)

// TokenParams describe an access token to mint. Every field is optional.
type TokenParams struct {
	// Permissions are the token's: some of the key's. Empty: all of them.
	Permissions []string `json:"permissions,omitempty"`
	// ExpiresIn is the lifetime, such as "15m" (the default) or "1h" (the
	// most).
	ExpiresIn string `json:"expires_in,omitempty"`
	// Audience is who the token is for (its "aud"): a URI or an
	// identifier. Empty: the Pihu API itself.
	Audience string `json:"audience,omitempty"`
}

// Token is a minted access token.
type Token struct {
	// AccessToken is the JWT to send as "Authorization: Bearer …". It is
	// not stored by the API and cannot be shown again.
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"` // "Bearer"
	ExpiresIn   int       `json:"expires_in"` // seconds
	Expires     time.Time `json:"expires"`
	Permissions []string  `json:"permissions"`
	Response
}

// CreateToken mints a short-lived access token with the client's key
// (permission token:write), to hand to a browser, a mobile app or a
// service that should not hold the key. The token works wherever the key
// does, with its own permissions, until it expires or the key is revoked;
// other services can check it offline with a TokenVerifier.
func (c *Client) CreateToken(ctx context.Context, p TokenParams) (*Token, error) {
	var out Token
	if err := c.do(ctx, http.MethodPost, "/v1/auth/tokens", nil, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
