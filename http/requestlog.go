package http

import (
	"net/http"
	"net/url"
	"regexp"

	"github.com/pihu-ai/pihu"
)

// RequestLogItem is an entry of the request log as the API shows it: a
// request made with a key, or (omitted above 0) how many of its key's
// requests were left out of the log, over the account's budget.
type RequestLogItem struct {
	ID        string `json:"id"`
	RequestID string `json:"request_id,omitempty"`
	KeyID     string `json:"key_id"`
	TokenID   string `json:"token_id,omitempty"`
	Time      string `json:"time"`
	Door      string `json:"door,omitempty"`
	Method    string `json:"method,omitempty"`
	Path      string `json:"path,omitempty"`
	Status    int    `json:"status,omitempty"`
	IP        string `json:"ip,omitempty"`
	Code      string `json:"code,omitempty"`
	Refused   bool   `json:"refused"`
	Omitted   int64  `json:"omitted,omitempty"`
}

// RequestLogList is a page of the request log.
type RequestLogList struct {
	Data    []RequestLogItem `json:"data"`
	HasMore bool             `json:"has_more"`
}

// NewRequestLogItem is e as the API shows it.
func NewRequestLogItem(e *pihu.RequestLogEntry) RequestLogItem {
	return RequestLogItem{ID: e.ID, RequestID: e.RequestID, KeyID: e.KeyID, TokenID: e.TokenID, Time: timestamp(e.Time),
		Door: e.Door, Method: e.Method, Path: e.Path, Status: e.Status, IP: e.IP, Code: e.Code, Refused: e.Refused(), Omitted: e.Omitted}
}

// The request log's filters, as query parameters.
const (
	paramKeyID   = "key_id"
	paramStatus  = "status"
	paramRefused = "refused"
	paramCode    = "code"
)

// errorCode is the shape of an error code.
var errorCode = regexp.MustCompile(`^[a-z][a-z_]{0,63}$`)

// requestLogFilter reads the filters of the request log from q into f:
// status ("429" or a class, "4xx"), refused (true or false), code (an
// error code), created[gte] and created[lt] (RFC 3339 times), and, if
// byKey, key_id.
func requestLogFilter(q url.Values, f *pihu.RequestLogFilter, byKey bool) error {
	var err error
	if vs, ok := q[paramKeyID]; ok && byKey {
		if vs[0] == "" {
			return pihu.ParamErrorf(pihu.EParameterInvalid, paramKeyID, "%q must be the id of one of the account's keys.", paramKeyID)
		}
		f.KeyID = vs[0]
	}
	if vs, ok := q[paramStatus]; ok {
		if f.Status, f.StatusClass, err = pihu.ParseStatusFilter(vs[0]); err != nil {
			return err
		}
	}
	if vs, ok := q[paramRefused]; ok {
		b, err := parseBool(paramRefused, vs[0])
		if err != nil {
			return err
		}
		f.Refused = *b
	}
	if vs, ok := q[paramCode]; ok {
		if !errorCode.MatchString(vs[0]) {
			return pihu.ParamErrorf(pihu.EParameterInvalid, paramCode, "%q must be an error code, such as rate_limited or ip_not_allowed.", paramCode)
		}
		f.Code = vs[0]
	}
	if f.Since, f.Until, err = createdRange(q); err != nil {
		return err
	}
	return f.Validate()
}

// listRequests shows the account's request log (GET /v1/auth/requests),
// newest first, paginated like keys, filtered by key, status, refusal,
// code and time. A test key sees only the requests of test keys.
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	f := pihu.RequestLogFilter{AccountID: caller.AccountID, Environment: keyScope(caller)}
	if err := parseRequestLogFilter(r, &f, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.KeyID != "" && f.Environment != "" {
		// A test key names a live key: as unknown as one that never was.
		k, err := s.store.Key(r.Context(), f.AccountID, f.KeyID)
		if err == nil && k.Environment != f.Environment {
			err = pihu.KeyNotFound(f.KeyID)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.writeRequestLog(w, r, f)
}

// keyRequests shows one key's request log (GET
// /v1/auth/api-keys/{id}/requests), revoked keys' included; another
// account's key, or one the caller may not see, is a 404. The query is
// checked first: a bad parameter is a 400 whatever the key.
func (s *Server) keyRequests(w http.ResponseWriter, r *http.Request) {
	var f pihu.RequestLogFilter
	if err := parseRequestLogFilter(r, &f, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	k, err := s.lookupKey(r, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f.AccountID, f.KeyID = k.AccountID, k.ID
	s.writeRequestLog(w, r, f)
}

// parseRequestLogFilter reads the page and the filters of r's query into
// f; key_id too if byKey.
func parseRequestLogFilter(r *http.Request, f *pihu.RequestLogFilter, byKey bool) error {
	params := []string{paramStatus, paramRefused, paramCode, paramCreatedGTE, paramCreatedLT}
	if byKey {
		params = append(params, paramKeyID)
	}
	page, err := parsePage(r, params...)
	if err != nil {
		return err
	}
	f.Limit, f.StartingAfter, f.EndingBefore = page.limit, page.startingAfter, page.endingBefore
	return requestLogFilter(page.query, f, byKey)
}

// writeRequestLog answers the page of the log f selects.
func (s *Server) writeRequestLog(w http.ResponseWriter, r *http.Request, f pihu.RequestLogFilter) {
	entries, more, err := s.store.ListRequestLog(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := RequestLogList{Data: make([]RequestLogItem, 0, len(entries)), HasMore: more}
	for _, e := range entries {
		out.Data = append(out.Data, NewRequestLogItem(e))
	}
	writeJSON(w, http.StatusOK, out)
}
