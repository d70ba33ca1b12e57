package http

import (
	"net/http"

	"github.com/pihu-ai/pihu"
)

// WebhookEndpoint is an endpoint as the API shows it: never its secret,
// except once, in WebhookEndpointCreated.
type WebhookEndpoint struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	Events      []string `json:"events"`
	Enabled     bool     `json:"enabled"`
	Environment string   `json:"environment"`
	Created     string   `json:"created"`
	// FailingSince is when deliveries started failing without a success
	// since; null while they succeed.
	FailingSince *string `json:"failing_since"`
	// PreviousSecretExpires is when the secret a roll replaced stops
	// signing deliveries beside the new one; null when none does.
	PreviousSecretExpires *string `json:"previous_secret_expires"`
}

// WebhookEndpointCreated is the response to creating an endpoint, or to
// rolling its secret: the only ones that show its signing secret.
type WebhookEndpointCreated struct {
	WebhookEndpoint
	Secret string `json:"secret"`
}

// WebhookEndpointList is a page of endpoints.
type WebhookEndpointList = List[WebhookEndpoint]

// NewWebhookEndpoint is e as the API shows it.
func NewWebhookEndpoint(e *pihu.WebhookEndpoint) WebhookEndpoint {
	events := e.Events
	if events == nil {
		events = []string{}
	}
	return WebhookEndpoint{
		ID: e.ID, URL: e.URL, Description: e.Description, Events: events, Enabled: e.Enabled,
		Environment: string(e.Environment), Created: timestamp(e.Created), FailingSince: timestampPtr(e.FailingSince),
		PreviousSecretExpires: timestampPtr(e.PreviousSecretExpires),
	}
}

// Delivery is a delivery as the API shows it, with every attempt.
type Delivery struct {
	ID          string            `json:"id"`
	EventID     string            `json:"event_id"`
	Type        string            `json:"type"`
	Status      string            `json:"status"`
	Attempts    []DeliveryAttempt `json:"attempts"`
	NextAttempt *string           `json:"next_attempt"`
	Created     string            `json:"created"`
}

// DeliveryAttempt is one POST of a delivery.
type DeliveryAttempt struct {
	At         string  `json:"at"`
	StatusCode *int    `json:"status_code"` // null: no answer came
	Error      *string `json:"error"`       // null: a 2xx
	DurationMS int64   `json:"duration_ms"`
}

// DeliveryList is a page of deliveries.
type DeliveryList struct {
	Data    []Delivery `json:"data"`
	HasMore bool       `json:"has_more"`
}

// NewDelivery is d as the API shows it.
func NewDelivery(d *pihu.Delivery) Delivery {
	out := Delivery{
		ID: d.ID, EventID: d.EventID, Type: d.EventType, Status: d.Status,
		Attempts: make([]DeliveryAttempt, 0, len(d.Attempts)), NextAttempt: timestampPtr(d.NextAttempt), Created: timestamp(d.Created),
	}
	for _, a := range d.Attempts {
		item := DeliveryAttempt{At: timestamp(a.At), DurationMS: a.Duration.Milliseconds()}
		if a.StatusCode != 0 {
			item.StatusCode = &a.StatusCode
		}
		if a.Error != "" {
			item.Error = &a.Error
		}
		out.Attempts = append(out.Attempts, item)
	}
	return out
}

type webhookEndpointRequest struct {
	URL         *string   `json:"url"`
	Events      *[]string `json:"events"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
}

func (s *Server) createWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	if err := pihu.CheckWebhookWriter(caller); err != nil {
		s.writeError(w, r, err)
		return
	}
	var body webhookEndpointRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := explicitEmpty(body.URL, "url", "\"url\" is empty; give the https URL to post events to."); err != nil {
		s.writeError(w, r, err)
		return
	}
	var events []string
	if body.Events != nil {
		events = *body.Events
		if len(events) == 0 {
			s.writeError(w, r, pihu.ParamErrorf(pihu.EParameterInvalid, "events", "\"events\" is empty; name at least one event type."))
			return
		}
	}
	enabled := body.Enabled == nil || *body.Enabled
	e, err := pihu.NewWebhookEndpoint(caller, deref(body.URL), events, deref(body.Description), enabled, s.now())
	if err == nil && !s.webhookLoopback {
		err = pihu.RefuseLoopbackWebhookURL(e.URL)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ev := pihu.NewWebhookAuditEvent(pihu.ActionWebhookEndpointCreated, caller.ID, clientIP(r), e, e.Created)
	if err := s.store.CreateWebhookEndpoint(r.Context(), e, ev); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, WebhookEndpointCreated{WebhookEndpoint: NewWebhookEndpoint(e), Secret: e.Secret})
}

func (s *Server) listWebhookEndpoints(w http.ResponseWriter, r *http.Request) {
	listScoped(s, w, r, s.store.ListWebhookEndpoints, NewWebhookEndpoint)
}

func (s *Server) getWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	getScoped(s, w, r, "webhook endpoint", s.store.WebhookEndpoint, NewWebhookEndpoint)
}

func (s *Server) updateWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	if err := pihu.CheckWebhookWriter(caller); err != nil {
		s.writeError(w, r, err)
		return
	}
	var body webhookEndpointRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	e, err := s.store.WebhookEndpoint(r.Context(), pihu.ScopeOf(caller), id)
	if err != nil {
		s.writeError(w, r, notFound(err, "webhook endpoint", id))
		return
	}
	change := pihu.WebhookEndpointChange{URL: body.URL, Events: body.Events, Description: body.Description, Enabled: body.Enabled}
	if err := e.Apply(change, s.webhookLoopback); err != nil {
		s.writeError(w, r, err)
		return
	}
	ev := pihu.NewWebhookAuditEvent(pihu.ActionWebhookEndpointUpdated, caller.ID, clientIP(r), e, s.now())
	if err := s.store.UpdateWebhookEndpoint(r.Context(), e, ev); err != nil {
		s.writeError(w, r, notFound(err, "webhook endpoint", id))
		return
	}
	writeJSON(w, http.StatusOK, NewWebhookEndpoint(e))
}

func (s *Server) deleteWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := deleteBody(w, r, &struct{}{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	scope := pihu.ScopeOf(caller)
	e, err := s.store.WebhookEndpoint(r.Context(), scope, id)
	if err != nil {
		s.writeError(w, r, notFound(err, "webhook endpoint", id))
		return
	}
	ev := pihu.NewWebhookAuditEvent(pihu.ActionWebhookEndpointDeleted, caller.ID, clientIP(r), e, s.now())
	if err := s.store.DeleteWebhookEndpoint(r.Context(), scope, id, ev); err != nil {
		s.writeError(w, r, notFound(err, "webhook endpoint", id))
		return
	}
	writeJSON(w, http.StatusOK, Deleted{ID: id, Deleted: true})
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	p, err := parsePage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	ds, more, err := s.store.ListDeliveries(r.Context(), pihu.ScopeOf(caller), id, pihu.Page{Limit: p.limit, StartingAfter: p.startingAfter, EndingBefore: p.endingBefore})
	if err != nil {
		s.writeError(w, r, notFound(err, "webhook endpoint", id))
		return
	}
	out := DeliveryList{Data: make([]Delivery, 0, len(ds)), HasMore: more}
	for _, d := range ds {
		out.Data = append(out.Data, NewDelivery(d))
	}
	writeJSON(w, http.StatusOK, out)
}

// testWebhookEndpoint queues a webhook.test event to the endpoint only,
// and answers its delivery.
func (s *Server) testWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	if err := decode(w, r, &struct{}{}, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	e, err := s.store.WebhookEndpoint(r.Context(), pihu.ScopeOf(caller), id)
	if err != nil {
		s.writeError(w, r, notFound(err, "webhook endpoint", id))
		return
	}
	ev, err := pihu.NewTestWebhookEvent(e, s.now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.store.QueueWebhookEvent(r.Context(), e.ID, ev)
	if err != nil {
		s.writeError(w, r, notFound(err, "webhook endpoint", id))
		return
	}
	writeJSON(w, http.StatusOK, NewDelivery(d))
}

// resendDelivery makes a new delivery of a delivery's event (its id and
// payload the same) to the same endpoint, and answers it.
func (s *Server) resendDelivery(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	if err := decode(w, r, &struct{}{}, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, deliveryID := r.PathValue("id"), r.PathValue("delivery_id")
	scope := pihu.ScopeOf(caller)
	if _, err := s.store.WebhookEndpoint(r.Context(), scope, id); err != nil {
		s.writeError(w, r, notFound(err, "webhook endpoint", id))
		return
	}
	d, err := s.store.ResendDelivery(r.Context(), scope, id, deliveryID)
	if pihu.ErrorCode(err) == pihu.ENotFound {
		err = pihu.DeliveryNotFound(pihu.MaskSecrets(deliveryID))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewDelivery(d))
}

type rollSecretRequest struct {
	ExpireOldIn *string `json:"expire_old_in"`
}

// rollWebhookSecret gives an endpoint a new signing secret, shown in this
// answer only; the old one signs beside it for expire_old_in.
func (s *Server) rollWebhookSecret(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	if err := pihu.CheckWebhookWriter(caller); err != nil {
		s.writeError(w, r, err)
		return
	}
	var body rollSecretRequest
	if err := decode(w, r, &body, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	overlap, err := pihu.ParseWebhookSecretOverlap(derefOr(body.ExpireOldIn, pihu.ExpireNow))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	e, err := s.store.WebhookEndpoint(r.Context(), pihu.ScopeOf(caller), id)
	if err != nil {
		s.writeError(w, r, notFound(err, "webhook endpoint", id))
		return
	}
	now := s.now()
	if err := e.RollSecret(caller, overlap, now); err != nil {
		s.writeError(w, r, err)
		return
	}
	ev := pihu.NewWebhookAuditEvent(pihu.ActionWebhookSecretRolled, caller.ID, clientIP(r), e, now)
	if err := s.store.RollWebhookSecret(r.Context(), e, ev); err != nil {
		s.writeError(w, r, notFound(err, "webhook endpoint", id))
		return
	}
	writeJSON(w, http.StatusOK, WebhookEndpointCreated{WebhookEndpoint: NewWebhookEndpoint(e), Secret: e.Secret})
}
