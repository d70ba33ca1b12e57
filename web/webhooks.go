package web

import (
	"bytes"
	"encoding/json"
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
	view := h.once.put(s.digest, e.ID, &webhookSecret{WebhookEndpoint: e})
	http.Redirect(w, r, "/webhooks/"+e.ID+"/secret/"+view, http.StatusSeeOther)
}

// webhookSecret is what the one view of an endpoint's secret shows: the
// endpoint, new or with its secret just rolled.
type webhookSecret struct {
	*pihu.WebhookEndpoint
	Rolled bool
}

// webhookSecretPage shows a new endpoint's signing secret on its one
// view; any later view says it was shown once.
func (h *Handler) webhookSecretPage(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	data, _ := h.once.take(s.digest, id, r.PathValue("view"))
	e, ok := data.(*webhookSecret)
	if !ok {
		h.shownOnce(w, r, s, "webhooks", shownOnceData{
			What:    "Signing secret",
			Message: "The signing secret of this endpoint was shown once, on the page that followed its creation or its roll, and cannot be shown again. Roll it again for a new one.",
			Link:    "/webhooks/" + id, LinkLabel: "View the endpoint",
			Back: "/webhooks", BackLabel: "Back to webhooks",
		})
		return
	}
	title := "Webhook endpoint created"
	if e.Rolled {
		title = "Signing secret rolled"
	}
	h.render(w, r, http.StatusOK, "webhook_created", view{Title: title, Me: s.user, Account: s.account, Nav: "webhooks", Env: e.Environment, Data: e})
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
	// Notice says what a form just did (a test event or a resend queued).
	Notice string
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

// queuedNotice is the notice of the endpoint page after a test event or a
// resend: the delivery it queued (queued=whd_…), if the query names one.
func queuedNotice(r *http.Request) string {
	id := r.URL.Query().Get("queued")
	if !strings.HasPrefix(id, pihu.PrefixDelivery) || len(id) > 64 {
		return ""
	}
	return "Delivery " + id + " was queued: it is sent within a second or two, and listed below."
}

func (h *Handler) renderWebhook(w http.ResponseWriter, r *http.Request, s *session, status int, e *pihu.WebhookEndpoint, f *form) {
	ds, _, err := h.store.ListDeliveries(r.Context(), webhookScope(s, e.Environment), e.ID, pihu.Page{Limit: 50})
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.render(w, r, status, "webhook", view{Title: e.URL, Me: s.user, Account: s.account, Nav: "webhooks", Env: e.Environment,
		Data: webhookData{Endpoint: e, Deliveries: ds, CanManage: s.user.Role.CanManageKeys(), MaxAttempts: pihu.WebhookMaxAttempts,
			Form: f, Types: pihu.WebhookEventTypes, Notice: queuedNotice(r)}})
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

// testWebhook sends a webhook.test event to the endpoint only, as POST
// /v1/webhook-endpoints/{id}/test does.
func (h *Handler) testWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	e, ok := h.webhookEndpoint(w, r, s)
	if !ok {
		return
	}
	ev, err := pihu.NewTestWebhookEvent(e, h.now())
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	d, err := h.store.QueueWebhookEvent(r.Context(), e.ID, ev)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/webhooks/"+e.ID+"?queued="+d.ID, http.StatusSeeOther)
}

type deliveryData struct {
	Endpoint    *pihu.WebhookEndpoint
	Delivery    *pihu.Delivery
	MaxAttempts int
	// Payload is the body of every attempt, indented for reading.
	Payload   string
	CanManage bool
}

// deliveryPage shows a delivery: where it stands, its attempts, and the
// body it sends, read-only.
func (h *Handler) deliveryPage(w http.ResponseWriter, r *http.Request, s *session) {
	e, ok := h.webhookEndpoint(w, r, s)
	if !ok {
		return
	}
	d, err := h.store.Delivery(r.Context(), webhookScope(s, e.Environment), e.ID, r.PathValue("delivery"))
	if pihu.ErrorCode(err) == pihu.ENotFound {
		h.errorPage(w, r, s, http.StatusNotFound, "Delivery not found", "This webhook endpoint has no such delivery.")
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	var payload bytes.Buffer
	if err := json.Indent(&payload, d.Payload, "", "  "); err != nil {
		payload.Reset()
		payload.Write(d.Payload)
	}
	h.render(w, r, http.StatusOK, "delivery", view{Title: "Delivery " + d.ID, Me: s.user, Account: s.account, Nav: "webhooks", Env: e.Environment,
		Data: deliveryData{Endpoint: e, Delivery: d, MaxAttempts: pihu.WebhookMaxAttempts, Payload: payload.String(), CanManage: s.user.Role.CanManageKeys()}})
}

// resendDelivery makes a new delivery of a delivery's event, as POST
// /v1/webhook-endpoints/{id}/deliveries/{delivery_id}/resend does.
func (h *Handler) resendDelivery(w http.ResponseWriter, r *http.Request, s *session) {
	e, ok := h.webhookEndpoint(w, r, s)
	if !ok {
		return
	}
	d, err := h.store.ResendDelivery(r.Context(), webhookScope(s, e.Environment), e.ID, r.PathValue("delivery"))
	if pihu.ErrorCode(err) == pihu.ENotFound {
		h.errorPage(w, r, s, http.StatusNotFound, "Delivery not found", "This webhook endpoint has no such delivery.")
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/webhooks/"+e.ID+"?queued="+d.ID, http.StatusSeeOther)
}

// rollChoices are the overlaps the roll form offers, as expire_old_in.
var rollChoices = []struct{ Value, Label string }{
	{"now", "Now: the old secret stops signing at once"},
	{"1h", "In 1 hour"},
	{"24h", "In 24 hours"},
	{"3d", "In 3 days"},
	{"7d", "In 7 days (the longest)"},
}

type rollData struct {
	Endpoint *pihu.WebhookEndpoint
	Choices  []struct{ Value, Label string }
	Form     *form
}

// rollWebhookPage asks how long the old secret keeps signing.
func (h *Handler) rollWebhookPage(w http.ResponseWriter, r *http.Request, s *session) {
	e, ok := h.webhookEndpoint(w, r, s)
	if !ok {
		return
	}
	f := newForm(nil)
	f.Values.Set("expire_old_in", "24h")
	h.renderRoll(w, r, s, http.StatusOK, e, f)
}

func (h *Handler) renderRoll(w http.ResponseWriter, r *http.Request, s *session, status int, e *pihu.WebhookEndpoint, f *form) {
	h.render(w, r, status, "webhook_roll", view{Title: "Roll the signing secret", Me: s.user, Account: s.account, Nav: "webhooks", Env: e.Environment,
		Data: rollData{Endpoint: e, Choices: rollChoices, Form: f}})
}

// rollWebhook rolls the endpoint's secret, as POST
// /v1/webhook-endpoints/{id}/roll-secret does, and sends the browser to
// the one view of the new secret.
func (h *Handler) rollWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	e, ok := h.webhookEndpoint(w, r, s)
	if !ok {
		return
	}
	f := newForm(r)
	overlap, err := pihu.ParseWebhookSecretOverlap(r.PostForm.Get("expire_old_in"))
	if err != nil {
		f.Fail(err, "expire_old_in")
		h.renderRoll(w, r, s, http.StatusBadRequest, e, f)
		return
	}
	now := h.now()
	if err := e.RollSecret(nil, overlap, now); err != nil {
		h.internalError(w, r, err)
		return
	}
	ev := pihu.NewWebhookAuditEvent(pihu.ActionWebhookSecretRolled, s.user.ID, h.clientIP(r), e, now)
	if err := h.store.RollWebhookSecret(r.Context(), e, ev); err != nil {
		h.internalError(w, r, err)
		return
	}
	view := h.once.put(s.digest, e.ID, &webhookSecret{WebhookEndpoint: e, Rolled: true})
	http.Redirect(w, r, "/webhooks/"+e.ID+"/secret/"+view, http.StatusSeeOther)
}
