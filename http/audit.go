package http

import (
	"net/http"
	"net/url"
	"time"

	"github.com/pihu-ai/pihu"
)

// AuditEventItem is an audit event as the API shows it.
type AuditEventItem struct {
	ID      string `json:"id"`
	Action  string `json:"action"`
	Actor   string `json:"actor"`
	Target  string `json:"target"`
	IP      string `json:"ip"`
	Created string `json:"created"`
	// Changes names the fields an api_key.updated event changed; absent
	// for other events.
	Changes []string `json:"changes,omitempty"`
	// URL and Source say where an api_key.leaked event's key was found,
	// as the report said it; absent when it did not, and for other
	// events.
	URL    string `json:"url,omitempty"`
	Source string `json:"source,omitempty"`
}

// ActorLiveKey is the actor a test key is shown for an event that a live
// key made (such as creating a test key): the live key's id is not shown.
const ActorLiveKey = "live_key"

// AuditEventList is a page of audit events.
type AuditEventList struct {
	Data    []AuditEventItem `json:"data"`
	HasMore bool             `json:"has_more"`
}

// NewAuditEventItem is ev as the API shows it.
func NewAuditEventItem(ev *pihu.AuditEvent) AuditEventItem {
	return AuditEventItem{ID: ev.ID, Action: ev.Action, Actor: ev.Actor, Target: ev.Target, IP: ev.IP, Created: timestamp(ev.Created), Changes: ev.Changes, URL: ev.URL, Source: ev.Source}
}

// The audit log's filters, as query parameters.
const (
	paramAction     = "action"
	paramActor      = "actor"
	paramTarget     = "target"
	paramCreatedGTE = "created[gte]"
	paramCreatedLT  = "created[lt]"
)

// auditFilter reads the filters of GET /v1/auth/audit-events from q into
// f: action (actions separated by commas, "user.*" for a resource's),
// actor, target (ids), created[gte] and created[lt] (RFC 3339 times).
func auditFilter(q url.Values, f *pihu.AuditFilter) error {
	var err error
	if vs, ok := q[paramAction]; ok {
		if f.Actions, err = pihu.ParseAuditActions(vs[0], paramAction); err != nil {
			return err
		}
	}
	f.Actor, f.Target = q.Get(paramActor), q.Get(paramTarget)
	if f.Since, f.Until, err = createdRange(q); err != nil {
		return err
	}
	return f.Validate(paramCreatedLT)
}

// createdRange reads the time range of a list's created[gte] and
// created[lt] (RFC 3339 times; zero if absent), the audit log's and the
// request log's. Returns EParameterInvalid on the parameter at fault,
// or on created[lt] if the range ends before it starts.
func createdRange(q url.Values) (since, until time.Time, err error) {
	for _, t := range []struct {
		param string
		to    *time.Time
	}{{paramCreatedGTE, &since}, {paramCreatedLT, &until}} {
		vs, ok := q[t.param]
		if !ok {
			continue
		}
		if *t.to, err = time.Parse(time.RFC3339, vs[0]); err != nil {
			return time.Time{}, time.Time{}, pihu.ParamErrorf(pihu.EParameterInvalid, t.param, "%q must be a time in RFC 3339, such as 2026-12-01T00:00:00Z.", t.param)
		}
	}
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		return time.Time{}, time.Time{}, pihu.ParamErrorf(pihu.EParameterInvalid, paramCreatedLT, "The end of the range must come after its start.")
	}
	return since, until, nil
}

// listAuditEvents shows the account's audit log, newest first, paginated
// like keys, filtered by action, actor, target and time (see
// auditFilter). A test key sees only the events of test keys, as it sees
// only test keys.
func (s *Server) listAuditEvents(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	page, err := parsePage(r, paramAction, paramActor, paramTarget, paramCreatedGTE, paramCreatedLT)
	f := pihu.AuditFilter{
		AccountID: caller.AccountID, Environment: keyScope(caller), Limit: page.limit, StartingAfter: page.startingAfter, EndingBefore: page.endingBefore,
	}
	if err == nil {
		err = auditFilter(page.query, &f)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	events, more, err := s.store.ListAuditEvents(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	actors := make([]string, 0, len(events))
	for _, ev := range events {
		actors = append(actors, ev.Actor)
	}
	hidden, err := s.hideLive(r, actors)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := AuditEventList{Data: make([]AuditEventItem, 0, len(events)), HasMore: more}
	for _, ev := range events {
		item := NewAuditEventItem(ev)
		if hidden[ev.Actor] {
			item.Actor = ActorLiveKey
		}
		out.Data = append(out.Data, item)
	}
	writeJSON(w, http.StatusOK, out)
}
