package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pihu-ai/pihu"
)

// codeWords are the error codes of the request log in words, for people:
// the refusals first, then the errors a request with a key may get.
var codeWords = map[string]string{
	pihu.ERateLimited:             "Rate limited",
	pihu.EIPNotAllowed:            "Address not allowed",
	pihu.EInsufficientPermissions: "Missing permission",
	pihu.EUsageExceeded:           "Out of credits",
	pihu.EDisabledAPIKey:          "Key disabled",
	pihu.ERevokedAPIKey:           "Key revoked",
	pihu.EExpiredAPIKey:           "Key expired",
	pihu.ENotFound:                "Not found",
	pihu.EParameterInvalid:        "Invalid parameter",
	pihu.EParameterMissing:        "Missing parameter",
	pihu.EParameterUnknown:        "Unknown parameter",
	pihu.EInvalidJSON:             "Invalid JSON",
	pihu.EInternal:                "Server error",
	pihu.EUnavailable:             "Service unavailable",
}

// reasonChoice is one option of the reason filter.
type reasonChoice struct{ Code, Label string }

// reasonChoices are the refusals the filter offers, in the order people
// look for them.
var reasonChoices = []reasonChoice{
	{pihu.ERateLimited, codeWords[pihu.ERateLimited]},
	{pihu.EIPNotAllowed, codeWords[pihu.EIPNotAllowed]},
	{pihu.EInsufficientPermissions, codeWords[pihu.EInsufficientPermissions]},
	{pihu.EUsageExceeded, codeWords[pihu.EUsageExceeded]},
}

// words is code in words: its own if it has none.
func words(code string) string {
	if w, ok := codeWords[code]; ok {
		return w
	}
	return code
}

// requestRow is an entry of the request log as a table row shows it.
type requestRow struct {
	Time         time.Time
	Door         string
	Method, Path string
	Status       int
	IP           string
	Code, Reason string
	Refused      bool
	KeyID        string
	KeyName      string
	Token        bool
	// Omitted, above 0, makes the row a count of requests left out.
	Omitted int64
}

// requestsQuery is the request log's filters as the page's form gives
// them.
type requestsQuery struct {
	Key    string // a key's id (the account page only)
	Show   string // "" every request, "refused", "errors" (4xx and 5xx)
	Reason string // an error code, from reasonChoices
}

// Encode is q as a query string, for the next page.
func (q requestsQuery) Encode() string {
	v := url.Values{}
	for _, f := range []struct{ name, value string }{{"key", q.Key}, {"show", q.Show}, {"reason", q.Reason}} {
		if f.value != "" {
			v.Set(f.name, f.value)
		}
	}
	return v.Encode()
}

// Any reports whether q filters anything.
func (q requestsQuery) Any() bool { return q != requestsQuery{} }

// requestsData is the request log's table, its filters and its pager.
type requestsData struct {
	Rows    []requestRow
	Query   requestsQuery
	Reasons []reasonChoice
	HasMore bool
	Next    string
	// Action is where the filter form goes: "/requests", or the key's
	// page.
	Action string
	// ByKey shows the key column (the account's log).
	ByKey   bool
	Problem string
	Off     bool
}

// requestsFilter reads the page's filters into a store filter of the
// account.
func requestsFilter(r *http.Request, accountID string, byKey bool) (requestsQuery, pihu.RequestLogFilter, error) {
	v := r.URL.Query()
	q := requestsQuery{Show: v.Get("show"), Reason: v.Get("reason")}
	f := pihu.RequestLogFilter{AccountID: accountID, StartingAfter: v.Get("starting_after")}
	if byKey {
		q.Key = v.Get("key")
		if q.Key != "" && !idShape.MatchString(q.Key) {
			return q, f, pihu.ParamErrorf(pihu.EParameterInvalid, "key", "Give a key's id, such as key_….")
		}
		f.KeyID = q.Key
	}
	switch q.Show {
	case "":
	case "refused":
		f.Refused = true
	case "errors":
		f.StatusClass = 4 // the answers a client can act on
	default:
		return q, f, pihu.ParamErrorf(pihu.EParameterInvalid, "show", "Choose what to show from the list.")
	}
	if q.Reason != "" {
		if _, ok := codeWords[q.Reason]; !ok {
			return q, f, pihu.ParamErrorf(pihu.EParameterInvalid, "reason", "Choose a reason from the list.")
		}
		f.Code = q.Reason
	}
	return q, f, nil
}

// requestRows reads a page of the log (50 entries) as rows, naming the
// keys of the account's log.
func (h *Handler) requestRows(r *http.Request, f pihu.RequestLogFilter, byKey bool) ([]requestRow, bool, string, error) {
	f.Limit = 50
	entries, more, err := h.store.ListRequestLog(r.Context(), f)
	if err != nil {
		return nil, false, "", err
	}
	names := map[string]string{}
	rows := make([]requestRow, 0, len(entries))
	for _, e := range entries {
		row := requestRow{Time: e.Time, Door: e.Door, Method: e.Method, Path: e.Path, Status: e.Status, IP: e.IP,
			Code: e.Code, Refused: e.Refused(), KeyID: e.KeyID, Token: e.TokenID != "", Omitted: e.Omitted}
		if e.Code != "" {
			row.Reason = words(e.Code)
		}
		if byKey {
			name, ok := names[e.KeyID]
			if !ok {
				if k, err := h.store.Key(r.Context(), f.AccountID, e.KeyID); err == nil {
					name = k.Name
				}
				names[e.KeyID] = name
			}
			row.KeyName = name
		}
		rows = append(rows, row)
	}
	next := ""
	if more {
		next = entries[len(entries)-1].ID
	}
	return rows, more, next, nil
}

// requestsPage shows the account's request log, newest first, 50 entries
// a page, filtered by key, refusals and reason.
func (h *Handler) requestsPage(w http.ResponseWriter, r *http.Request, s *session) {
	q, f, err := requestsFilter(r, s.account.ID, true)
	d := requestsData{Query: q, Reasons: reasonChoices, Action: "/requests", ByKey: true}
	if err == nil {
		d.Rows, d.HasMore, d.Next, err = h.requestRows(r, f, true)
	}
	switch {
	case pihu.ErrorCode(err) == pihu.EParameterInvalid || pihu.ErrorCode(err) == pihu.ENotFound:
		d.Problem = pihu.ErrorMessage(err)
		h.render(w, r, http.StatusBadRequest, "requests", view{Title: "Requests", Me: s.user, Account: s.account, Nav: "requests", Data: d})
		return
	case err != nil:
		h.internalError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "requests", view{Title: "Requests", Me: s.user, Account: s.account, Nav: "requests", Data: d})
}

// keyRequests is the request log of key k for its page, with the page's
// filters; a bad filter is the table's Problem.
func (h *Handler) keyRequests(r *http.Request, k *pihu.Key) (requestsData, error) {
	q, f, err := requestsFilter(r, k.AccountID, false)
	f.KeyID = k.ID
	d := requestsData{Query: q, Reasons: reasonChoices, Action: "/keys/" + k.ID}
	if err == nil {
		d.Rows, d.HasMore, d.Next, err = h.requestRows(r, f, false)
	}
	if pihu.ErrorCode(err) == pihu.EParameterInvalid {
		d.Problem, err = pihu.ErrorMessage(err), nil
	}
	return d, err
}

// statusText is an HTTP status and its words, such as "429 Too Many
// Requests".
func statusText(code int) string {
	if code == 0 {
		return ""
	}
	return strconv.Itoa(code) + " " + http.StatusText(code)
}
