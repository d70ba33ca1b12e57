package web

import (
	"net/http"
	"strings"

	"github.com/pihu-ai/pihu"
)

// The webhooks pages go through the store calls and the rules of the
// API's /v1/webhook-endpoints: pihu.NewWebhookEndpoint and Validate check
// the URL and events, every change is an audit event, and an endpoint of
// the other environment is as absent as another account's. Viewers read;
// owners and admins (who manage keys) change.

type webhooksData struct {
	Env       pihu.Environment
	Endpoints []*pihu.WebhookEndpoint
	CanManage bool
	Form      *form
	Types     []string
}

// webhookScope is the account's data of environment env.
func webhookScope(s *session, env pihu.Environment) pihu.Scope {
	return pihu.Scope{AccountID: s.account.ID, Environment: env}
}

// webhooksPage lists the endpoints of one environment (env=live|test),
// with the create form for those who may create.
func (h *Handler) webhooksPage(w http.ResponseWriter, r *http.Request, s *session) {
	env, ok := parseEnv(r.URL.Query().Get("env"))
	if !ok {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The environment must be live or test.")
		return
	}
	f := newForm(nil)
	f.Values.Set("environment", string(env))
	h.renderWebhooks(w, r, s, http.StatusOK, env, f)
}

func (h *Handler) renderWebhooks(w http.ResponseWriter, r *http.Request, s *session, status int, env pihu.Environment, f *form) {
	es, _, err := h.store.ListWebhookEndpoints(r.Context(), webhookScope(s, env), pihu.Page{Limit: 100})
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.render(w, r, status, "webhooks", view{Title: "Webhooks", Me: s.user, Account: s.account, Nav: "webhooks", Env: env,
		Data: webhooksData{Env: env, Endpoints: es, CanManage: s.user.Role.CanManageKeys(), Form: f, Types: pihu.WebhookEventTypes}})
}

// webhookFields are the create form's fields, by the API's names.
var webhookFields = []string{"url", "events", "description", "environment"}

// createWebhook creates an endpoint as POST /v1/webhook-endpoints does,
// and sends the browser to the one view of its secret (303).
func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(r)
	env := pihu.Environment(r.PostForm.Get("environment"))
	if !env.Valid() {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The environment must be live or test.")
		return
	}
	// The endpoint belongs to the account and environment chosen, as if
	// a key of them created it.
	owner := &pihu.Key{AccountID: s.account.ID, Environment: env}
	e, err := pihu.NewWebhookEndpoint(owner, strings.TrimSpace(r.PostForm.Get("url")), r.PostForm["events"],
		strings.TrimSpace(r.PostForm.Get("description")), true, h.now())
	if err == nil && !h.loopback {
		err = pihu.RefuseLoopbackWebhookURL(e.URL)
	}
	if err != nil {
		if !f.Fail(err, webhookFields...) {
			h.internalError(w, r, err)
			return
		}
		h.renderWebhooks(w, r, s, http.StatusBadRequest, env, f)
		return
	}
	ev := pihu.NewWebhookAuditEvent(pihu.ActionWebhookEndpointCreated, s.user.ID, h.clientIP(r), e, e.Created)
	if err := h.store.CreateWebhookEndpoint(r.Context(), e, ev); err != nil {
		h.internalError(w, r, err)
		return
	}
	view := h.once.put(s.digest, e.ID, e)
	http.Redirect(w, r, "/webhooks/"+e.ID+"/secret/"+view, http.StatusSeeOther)
}

// webhookSecretPage shows a new endpoint's signing secret on its one
// view; any later view says it was shown once.
func (h *Handler) webhookSecretPage(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	data, _ := h.once.take(s.digest, id, r.PathValue("view"))
	e, ok := data.(*pihu.WebhookEndpoint)
	if !ok {
		h.shownOnce(w, r, s, "webhooks", shownOnceData{
			What:    "Signing secret",
			Message: "The signing secret of this endpoint was shown once, on the page that followed its creation, and cannot be shown again.",
			Link:    "/webhooks/" + id, LinkLabel: "View the endpoint",
			Back: "/webhooks", BackLabel: "Back to webhooks",
		})
		return
	}
	h.render(w, r, http.StatusOK, "webhook_created", view{Title: "Webhook endpoint created", Me: s.user, Account: s.account, Nav: "webhooks", Env: e.Environment, Data: e})
}

// webhookEndpoint reads the endpoint of the path in either environment
// of the account, answering 404 if it has none.
func (h *Handler) webhookEndpoint(w http.ResponseWriter, r *http.Request, s *session) (*pihu.WebhookEndpoint, bool) {
	id := r.PathValue("id")
	for _, env := range []pihu.Environment{pihu.Live, pihu.Test} {
		e, err := h.store.WebhookEndpoint(r.Context(), webhookScope(s, env), id)
		if err == nil {
			return e, true
		}
		if pihu.ErrorCode(err) != pihu.ENotFound {
			h.internalError(w, r, err)
			return nil, false
		}
	}
	h.errorPage(w, r, s, http.StatusNotFound, "Webhook endpoint not found", "This account has no such webhook endpoint.")
	return nil, false
}

type webhookData struct {
	Endpoint   *pihu.WebhookEndpoint
	Deliveries []*pihu.Delivery
	CanManage  bool
	// MaxAttempts is the most attempts a delivery gets, for its status
	// ("retrying (attempt 3 of 20)").
	MaxAttempts int
	// Form is the edit form, open when it failed.
	Form  *form
	Types []string
}

// webhookPage shows an endpoint, its edit form and its 50 latest
// deliveries.
func (h *Handler) webhookPage(w http.ResponseWriter, r *http.Request, s *session) {
	e, ok := h.webhookEndpoint(w, r, s)
	if !ok {
		return
	}
	f := newForm(nil)
	f.Values.Set("url", e.URL)
	f.Values.Set("description", e.Description)
	f.Values["events"] = e.Events
	h.renderWebhook(w, r, s, http.StatusOK, e, f)
}

func (h *Handler) renderWebhook(w http.ResponseWriter, r *http.Request, s *session, status int, e *pihu.WebhookEndpoint, f *form) {
	ds, _, err := h.store.ListDeliveries(r.Context(), webhookScope(s, e.Environment), e.ID, pihu.Page{Limit: 50})
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.render(w, r, status, "webhook", view{Title: e.URL, Me: s.user, Account: s.account, Nav: "webhooks", Env: e.Environment,
		Data: webhookData{Endpoint: e, Deliveries: ds, CanManage: s.user.Role.CanManageKeys(), MaxAttempts: pihu.WebhookMaxAttempts,
			Form: f, Types: pihu.WebhookEventTypes}})
}

// editFields are the edit form's fields, by the API's names.
var editFields = []string{"url", "events", "description"}

// editWebhook changes an endpoint's URL, events and description as PATCH
// /v1/webhook-endpoints/{id} does (pihu.WebhookEndpoint.Apply), and shows
// the form again, with the reason beside its field, when the change is
// refused.
func (h *Handler) editWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	e, ok := h.webhookEndpoint(w, r, s)
	if !ok {
		return
	}
	f := newForm(r)
	var change pihu.WebhookEndpointChange
	// An unchanged URL is not checked again: an endpoint on this machine,
	// made while the server allowed it, keeps its URL through an edit of
	// its events.
	if u := strings.TrimSpace(r.PostForm.Get("url")); u != e.URL {
		change.URL = &u
	}
	events := r.PostForm["events"]
	if events == nil {
		events = []string{}
	}
	description := strings.TrimSpace(r.PostForm.Get("description"))
	change.Events, change.Description = &events, &description
	if err := e.Apply(change, h.loopback); err != nil {
		if !f.Fail(err, editFields...) {
			h.internalError(w, r, err)
			return
		}
		h.renderWebhook(w, r, s, http.StatusBadRequest, e, f)
		return
	}
	ev := pihu.NewWebhookAuditEvent(pihu.ActionWebhookEndpointUpdated, s.user.ID, h.clientIP(r), e, h.now())
	if err := h.store.UpdateWebhookEndpoint(r.Context(), e, ev); err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/webhooks/"+e.ID, http.StatusSeeOther)
}

// toggleWebhook enables or disables an endpoint (enabled=true|false).
func (h *Handler) toggleWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	e, ok := h.webhookEndpoint(w, r, s)
	if !ok {
		return
	}
	var enabled bool
	switch r.PostForm.Get("enabled") {
	case "true":
		enabled = true
	case "false":
	default:
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "Say whether to enable the endpoint: true or false.")
		return
	}
	if err := e.Apply(pihu.WebhookEndpointChange{Enabled: &enabled}, h.loopback); err != nil {
		h.internalError(w, r, err)
		return
	}
	ev := pihu.NewWebhookAuditEvent(pihu.ActionWebhookEndpointUpdated, s.user.ID, h.clientIP(r), e, h.now())
	if err := h.store.UpdateWebhookEndpoint(r.Context(), e, ev); err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/webhooks/"+e.ID, http.StatusSeeOther)
}

// deleteWebhookPage asks to confirm a deletion.
func (h *Handler) deleteWebhookPage(w http.ResponseWriter, r *http.Request, s *session) {
	e, ok := h.webhookEndpoint(w, r, s)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "webhook_delete", view{Title: "Delete a webhook endpoint", Me: s.user, Account: s.account, Nav: "webhooks", Env: e.Environment, Data: e})
}

// deleteWebhook deletes an endpoint and its pending deliveries.
func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	e, ok := h.webhookEndpoint(w, r, s)
	if !ok {
		return
	}
	ev := pihu.NewWebhookAuditEvent(pihu.ActionWebhookEndpointDeleted, s.user.ID, h.clientIP(r), e, h.now())
	if err := h.store.DeleteWebhookEndpoint(r.Context(), webhookScope(s, e.Environment), e.ID, ev); err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/webhooks?env="+string(e.Environment), http.StatusSeeOther)
}
