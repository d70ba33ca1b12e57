package web

import (
	"net/http"
	"slices"

	"github.com/pihu-ai/pihu"
)

type auditData struct {
	Events  []eventRow
	HasMore bool
	Next    string
	// Key is the key id the log is filtered by, if any.
	Key string
	// Action is the action (or "user.", every person's) the log is
	// filtered by, if any, one of Actions.
	Action  string
	Actions []string
}

// auditActions are the choices of the audit log's action filter: all of
// the dashboard's people's events, then those of sign-in one by one.
var auditActions = []string{
	"user.", pihu.ActionUserLogin, pihu.ActionUserLoginFailed, pihu.ActionUserLogout,
	pihu.ActionUserTwoFactorEnabled, pihu.ActionUserTwoFactorDisabled, pihu.ActionUserRecoveryCodeUsed,
	pihu.ActionUserSessionsRevoked, pihu.ActionUserPasswordSet, "api_key.", "account.",
}

// auditPage shows the account's audit log, newest first, 50 events a page
// (starting_after the last event of the previous one), optionally of one
// key only (key=key_…) and of one action, or family of actions (action=).
func (h *Handler) auditPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	d := auditData{Key: q.Get("key"), Action: q.Get("action"), Actions: auditActions}
	if d.Action != "" && !slices.Contains(auditActions, d.Action) {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "Choose an action from the list.")
		return
	}
	events, more, err := h.store.ListAuditEvents(r.Context(), pihu.AuditFilter{
		AccountID: s.account.ID, Target: d.Key, Action: d.Action, Limit: 50, StartingAfter: q.Get("starting_after"),
	})
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
