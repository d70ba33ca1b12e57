// Package client is a typed Go client for the Pihu.ai API: API keys
// (create, list, get, revoke, rotate), whoami, key verification,
// candidates and interviews. The pihu command's `keys` subcommands use it,
// and other services can import it to manage keys or to use Pihu as their
// authentication server (Client.Verify).
//
// Every method takes a context and returns either a result or an error;
// an error the API answered is an *Error carrying its type, code, message,
// param and request id. The client never puts its API key in an error or
// anywhere but the Authorization header.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is where `pihu serve` listens unless told otherwise.
const DefaultBaseURL = "http://127.0.0.1:8080"

// Config configures a Client.
type Config struct {
	// BaseURL is the API's address, scheme and host and optionally a
	// path prefix, such as "https://api.pihu.ai". Default:
	// DefaultBaseURL.
	BaseURL string
	// APIKey is the key sent as the Bearer token of every request.
	APIKey string
	// HTTPClient sends the requests. Default: a client with a 30 s
	// timeout.
	HTTPClient *http.Client
}

// Client calls the API. It is safe for concurrent use.
type Client struct {
	base string // without a trailing slash
	key  string
	hc   *http.Client
}

// New returns a client for c. It fails if BaseURL is not an http or https
// URL with a host.
func New(c Config) (*Client, error) {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: base URL %q: want an http:// or https:// URL with a host, such as %s", base, DefaultBaseURL)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(base, "/"), key: c.APIKey, hc: hc}, nil
}

// Response is what every result carries besides its fields: the body as
// the API sent it, and the request's id.
type Response struct {
	raw       []byte
	requestID string
	replayed  bool
}

// RawJSON returns the response body exactly as the API sent it, fields
// this client does not know included.
func (r *Response) RawJSON() []byte { return r.raw }

// RequestID returns the Request-Id of the response, to quote when asking
// for help.
func (r *Response) RequestID() string { return r.requestID }

func (r *Response) setResponse(raw []byte, requestID string) { r.raw, r.requestID = raw, requestID }

// Replayed reports whether the answer is the stored answer of an earlier
// request with the same Idempotency-Key (see WithIdempotencyKey), rather
// than the request acting again.
func (r *Response) Replayed() bool { return r.replayed }

func (r *Response) setReplayed(replayed bool) { r.replayed = replayed }

// result is a response type: it embeds Response.
type result interface {
	setResponse(raw []byte, requestID string)
	setReplayed(replayed bool)
}

// ListParams select a page of a list, newest first.
type ListParams struct {
	// Limit is the page size, 1 to 100; 0 means the API's default, 10.
	Limit int
	// StartingAfter is the last id of the previous page; "" for the
	// first.
	StartingAfter string
	// EndingBefore is the first id of the next page, to page back towards
	// the newest: the page holds the Limit items next newer than it,
	// newest first, and HasMore reports whether newer ones remain. Set at
	// most one of StartingAfter and EndingBefore.
	EndingBefore string
}

func (p ListParams) query() url.Values {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.StartingAfter != "" {
		q.Set("starting_after", p.StartingAfter)
	}
	if p.EndingBefore != "" {
		q.Set("ending_before", p.EndingBefore)
	}
	return q
}

// Deleted is the answer to deleting a candidate or an interview.
type Deleted struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
	Response
}

// maxResponse bounds what the client reads of a response body.
const maxResponse = 16 << 20

// escapeID returns id for use as one path segment. An id that is empty or
// a dot segment would name another path, so it is refused.
func escapeID(id string) (string, error) {
	if id == "" || id == "." || id == ".." {
		return "", fmt.Errorf("client: %q is not an id", id)
	}
	return url.PathEscape(id), nil
}

// do sends one request: body, if not nil, as JSON; out, if not nil,
// receives the JSON of a 2xx response. Any other status is an *Error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any, out result) error {
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("client: %s %s: encoding the body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "pihu-go-client")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	setIdempotencyKey(ctx, req)
	res, err := c.hc.Do(req)
	if err != nil {
		// A *url.Error repeats the URL; say it once, and what failed.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("cannot reach the Pihu API at %s (%s %s): %w", c.base, method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("client: %s %s: reading the response: %w", method, path, err)
	}
	requestID := res.Header.Get("Request-Id")
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return newError(res, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("client: %s %s: the response is not the JSON expected (request %s): %w", method, path, requestID, err)
	}
	out.setResponse(raw, requestID)
	out.setReplayed(res.Header.Get("Idempotent-Replayed") == "true")
	return nil
}
