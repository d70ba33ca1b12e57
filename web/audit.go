package web

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
)

// auditQuery is the audit log's filters as the page's form gives them.
type auditQuery struct {
	// Key is a key's id (or another target's, such as a webhook
	// endpoint's), or a key's name (every key of that name, revoked or
	// not).
	Key string
	// Category is one of auditCategories' values.
	Category string
	// Actor is a member's email, or the id of a key or user.
	Actor string
	// From and To are dates (2006-01-02), To included.
	From, To string
}

// Encode is q as a query string, for the next page and the CSV link.
func (q auditQuery) Encode() string {
	v := url.Values{}
	for _, f := range []struct{ name, value string }{{"key", q.Key}, {"category", q.Category}, {"actor", q.Actor}, {"from", q.From}, {"to", q.To}} {
		if f.value != "" {
			v.Set(f.name, f.value)
		}
	}
	return v.Encode()
}

// Any reports whether q filters anything.
func (q auditQuery) Any() bool { return q != auditQuery{} }

type auditData struct {
	Events     []eventRow
	HasMore    bool
	Next       string
	Query      auditQuery
	Categories []auditCategory
	// Problem says why the filters could not be read, if they could not.
	Problem string
}

// idShape is the shape of an id ("key_…", "we_…"): a lower-case prefix
// and pihu.IDLength letters and digits.
var idShape = regexp.MustCompile(`^[a-z]+_[0-9A-Za-z]{` + strconv.Itoa(pihu.IDLength) + `}$`)

// maxAuditExport is the most events one CSV export holds.
const maxAuditExport = 10000

// auditFilter reads the page's filters into a store filter for the
// account. A filter that names nothing of the account (an unknown key
// name or email) matches no event; a malformed one is an EParameterInvalid
// naming the field.
func (h *Handler) auditFilter(r *http.Request, accountID string) (auditQuery, pihu.AuditFilter, error) {
	v := r.URL.Query()
	q := auditQuery{Key: strings.TrimSpace(v.Get("key")), Category: v.Get("category"), Actor: strings.TrimSpace(v.Get("actor")), From: v.Get("from"), To: v.Get("to")}
	f := pihu.AuditFilter{AccountID: accountID}
	switch {
	case q.Key == "":
	case idShape.MatchString(q.Key):
		f.Target = q.Key // a key's id, or another target's (an endpoint's, a role's)
	default:
		ids, err := h.keysNamed(r, accountID, q.Key)
		if err != nil {
			return q, f, err
		}
		f.Targets = ids
	}
	found := false
	for _, c := range auditCategories {
		if c.Value == q.Category {
			f.Actions, found = c.Actions, true
		}
	}
	if !found {
		return q, f, pihu.ParamErrorf(pihu.EParameterInvalid, "category", "Choose what to show from the list.")
	}
	if strings.Contains(q.Actor, "@") {
		u, err := h.store.UserByEmail(r.Context(), q.Actor)
		switch {
		case pihu.ErrorCode(err) == pihu.ENotFound:
			f.Targets = []string{} // no one: no event
		case err != nil:
			return q, f, err
		default:
			f.Actor = u.ID
		}
	} else {
		f.Actor = q.Actor
	}
	for _, d := range []struct {
		value string
		to    *time.Time
		next  bool
	}{{q.From, &f.Since, false}, {q.To, &f.Until, true}} {
		if d.value == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.value)
		if err != nil {
			return q, f, pihu.ParamErrorf(pihu.EParameterInvalid, "from", "Give dates such as 2026-12-01.")
		}
		if d.next {
			t = t.AddDate(0, 0, 1) // the whole day of To
		}
		*d.to = t
	}
	return q, f, f.Validate("to")
}

// keysNamed returns the ids of the account's keys named name, revoked
// ones included, so that a key's history can be found by the name people
// know it by.
func (h *Handler) keysNamed(r *http.Request, accountID, name string) ([]string, error) {
	ids := []string{}
	for _, revoked := range []bool{false, true} {
		after := ""
		for {
			keys, more, err := h.store.ListKeys(r.Context(), pihu.KeyFilter{AccountID: accountID, NamePrefix: name, Revoked: revoked, Limit: 100, StartingAfter: after})
			if err != nil {
				return nil, err
			}
			for _, k := range keys {
				if k.Name == name {
					ids = append(ids, k.ID)
				}
			}
			if !more {
				break
			}
			after = keys[len(keys)-1].ID
		}
	}
	return ids, nil
}

// auditPage shows the account's audit log, newest first, 50 events a page
// (starting_after the last event of the previous one), filtered by key
// (id or name), kind of action, actor (email or id) and dates.
func (h *Handler) auditPage(w http.ResponseWriter, r *http.Request, s *session) {
	q, f, err := h.auditFilter(r, s.account.ID)
	d := auditData{Query: q, Categories: auditCategories}
	status := http.StatusOK
	if pihu.ErrorCode(err) == pihu.EParameterInvalid {
		d.Problem, status = pihu.ErrorMessage(err), http.StatusBadRequest
		h.render(w, r, status, "audit", view{Title: "Audit log", Me: s.user, Account: s.account, Nav: "audit", Data: d})
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	f.Limit, f.StartingAfter = 50, r.URL.Query().Get("starting_after")
	events, more, err := h.store.ListAuditEvents(r.Context(), f)
	if pihu.ErrorCode(err) == pihu.EParameterInvalid {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", pihu.ErrorMessage(err))
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if d.Events, err = h.eventRows(r, s.account.ID, events); err != nil {
		h.internalError(w, r, err)
		return
	}
	d.HasMore = more
	if more {
		d.Next = events[len(events)-1].ID
	}
	h.render(w, r, http.StatusOK, "audit", view{Title: "Audit log", Me: s.user, Account: s.account, Nav: "audit", Data: d})
}

// auditCSV exports the events the audit page's filters select, newest
// first, up to maxAuditExport, as CSV: time (RFC 3339, UTC), action,
// the event in words, the actor's and the target's ids and names, and
// the client address. A cell a spreadsheet would take for a formula
// (starting with =, +, -, @, tab or carriage return) is quoted with a
// leading apostrophe, as OWASP advises, since key names are anyone's.
func (h *Handler) auditCSV(w http.ResponseWriter, r *http.Request, s *session) {
	_, f, err := h.auditFilter(r, s.account.ID)
	if pihu.ErrorCode(err) == pihu.EParameterInvalid {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", pihu.ErrorMessage(err))
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	var rows []eventRow
	f.Limit = 100
	for len(rows) < maxAuditExport {
		events, more, err := h.store.ListAuditEvents(r.Context(), f)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		page, err := h.eventRows(r, s.account.ID, events)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		rows = append(rows, page...)
		if !more {
			break
		}
		f.StartingAfter = events[len(events)-1].ID
	}
	rows = rows[:min(len(rows), maxAuditExport)]
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit-log.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write([]string{"time", "action", "description", "actor_id", "actor", "target_id", "target", "ip"})
	for _, e := range rows {
		cw.Write([]string{e.Created.UTC().Format(time.RFC3339), e.Action, cell(e.Words), e.Actor, cell(e.ActorName), e.Target, cell(e.TargetName), e.IP})
	}
	cw.Flush()
}

// cell is s safe in a spreadsheet: one that starts like a formula gets a
// leading apostrophe.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
