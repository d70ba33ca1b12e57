package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
)

// The identities page lists the identities of one environment of the
// account (live, or test with ?env=test) and, for those who manage
// keys, creates and deletes them, with the rules of /v1/identities:
// pihu.NewIdentity checks them, with the account's own authority
// (ownerCreator in the chosen environment), and a deletion of an identity
// that active keys have is refused with their count unless the form asks
// to revoke them, which revokes them as DELETE /v1/auth/api-keys does.

// identityFields are the identity form's fields, by the API's names.
var identityFields = []string{"external_id", "metadata", "rate_limit", "ratelimits", "remaining", "refill", "refill_day", "add"}

type identitiesData struct {
	Identities []*pihu.Identity
	// Now is when the credits shown are counted (a refill due included).
	Now         time.Time
	Environment pihu.Environment
	CanManage   bool
	Form        *form
	// Deleted says what the last deletion did, on the page it redirects
	// to.
	Deleted string
}

// identityEnvironment is the environment the page or form names: live
// unless "test".
func identityEnvironment(v string) pihu.Environment {
	if v == string(pihu.Test) {
		return pihu.Test
	}
	return pihu.Live
}

func (h *Handler) identitiesPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	h.renderIdentities(w, r, s, http.StatusOK, identityEnvironment(q.Get("env")), newForm(nil), q.Get("deleted"))
}

func (h *Handler) renderIdentities(w http.ResponseWriter, r *http.Request, s *session, status int, env pihu.Environment, f *form, deleted string) {
	list, _, err := h.store.ListIdentities(r.Context(), pihu.IdentityFilter{
		Scope: pihu.Scope{AccountID: s.account.ID, Environment: env}, Page: pihu.Page{Limit: 100}})
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.render(w, r, status, "identities", view{Title: "Identities", Me: s.user, Account: s.account, Nav: "identities",
		Data: identitiesData{Identities: list, Now: h.now(), Environment: env, CanManage: s.user.Role.CanManageKeys(), Form: f, Deleted: deleted}})
}

// identityCreator is the account's own authority in environment env.
func identityCreator(accountID string, env pihu.Environment) *pihu.Key {
	k := ownerCreator(accountID)
	k.Environment = env
	return k
}

// createIdentity creates an identity, as POST /v1/identities does.
func (h *Handler) createIdentity(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(r)
	env := identityEnvironment(r.PostForm.Get("environment"))
	req := pihu.IdentityRequest{ExternalID: strings.TrimSpace(r.PostForm.Get("external_id"))}
	if m := strings.TrimSpace(r.PostForm.Get("metadata")); m != "" {
		req.Metadata = json.RawMessage(m)
	}
	if l := strings.TrimSpace(r.PostForm.Get("rate_limit")); l != "" {
		req.RateLimit = &l
	}
	named, err := pihu.ParseNamedLimitsText(r.PostForm.Get("ratelimits"), "ratelimits")
	req.RateLimits = named.Map()
	if err == nil {
		req.Credits, err = creditsForm(r.PostForm)
	}
	if err == nil && req.Metadata != nil && !json.Valid(req.Metadata) {
		err = pihu.ParamErrorf(pihu.EParameterInvalid, "metadata", "The metadata is not JSON: give an object such as {\"plan\": \"pro\"}, or leave it empty.")
	}
	var i *pihu.Identity
	if err == nil {
		i, err = pihu.NewIdentity(identityCreator(s.account.ID, env), req, h.now())
	}
	if err == nil {
		err = h.store.CreateIdentity(r.Context(), i,
			pihu.NewIdentityEvent(pihu.ActionIdentityCreated, s.user.ID, h.clientIP(r), i, i.Created))
	}
	if err != nil {
		if !f.Fail(err, identityFields...) {
			h.internalError(w, r, err)
			return
		}
		h.renderIdentities(w, r, s, statusOf(err), env, f, "")
		return
	}
	http.Redirect(w, r, "/identities?env="+string(env)+"#"+i.ID, http.StatusSeeOther)
}

// deleteIdentity deletes an identity, as DELETE /v1/identities/{id} does:
// refused, with the count, while active keys have it, unless the form
// asks to revoke them, when they are revoked with it, at once everywhere.
func (h *Handler) deleteIdentity(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	env := identityEnvironment(r.PostForm.Get("environment"))
	owner := identityCreator(s.account.ID, env)
	now, ip := h.now(), h.clientIP(r)
	i, revoked, err := h.store.DeleteIdentity(r.Context(), pihu.IdentityDeletion{
		Scope: pihu.Scope{AccountID: s.account.ID, Environment: env}, ID: r.PathValue("id"), At: now,
		RevokeKeys: r.PostForm.Get("revoke_keys") == "true",
		Check:      func(k *pihu.Key) error { return pihu.CheckRevoke(owner, k) },
		KeyEvent: func(k *pihu.Key) *pihu.AuditEvent {
			return pihu.NewAuditEvent(pihu.ActionKeyRevoked, s.user.ID, ip, k, now)
		},
		Event: func(i *pihu.Identity) *pihu.AuditEvent {
			return pihu.NewIdentityEvent(pihu.ActionIdentityDeleted, s.user.ID, ip, i, now)
		},
	})
	switch pihu.ErrorCode(err) {
	case "":
		for _, k := range revoked {
			h.auth.Invalidate(k.ID)
		}
		h.auth.InvalidateIdentity(i.ID)
		http.Redirect(w, r, "/identities?env="+string(env)+"&deleted="+url.QueryEscape(i.ExternalID), http.StatusSeeOther)
	case pihu.ENotFound:
		h.errorPage(w, r, s, http.StatusNotFound, "Identity not found", "This account has no identity with this id in this environment, or it has been deleted.")
	case pihu.EIdentityInUse:
		f := newForm(nil)
		f.Message = pihu.ErrorMessage(err)
		h.renderIdentities(w, r, s, http.StatusConflict, env, f, "")
	default:
		h.internalError(w, r, err)
	}
}

// creditsForm reads the credits of the identity form: "remaining" (empty:
// not counted), and a refill of "refill_amount" every day or every month
// ("refill_interval", empty: none), a monthly one on day "refill_day" (1
// to 31, empty: the 1st; 31 is every month's last day), as the API's
// refill.
func creditsForm(v url.Values) (*pihu.Credits, error) {
	raw := strings.TrimSpace(v.Get("remaining"))
	interval, amount := v.Get("refill_interval"), strings.TrimSpace(v.Get("refill_amount"))
	day := strings.TrimSpace(v.Get("refill_day"))
	if raw == "" {
		if interval != "" || amount != "" || day != "" {
			return nil, pihu.ParamErrorf(pihu.EParameterMissing, "remaining", "A refill needs credits to start with: give the credits too.")
		}
		return nil, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, pihu.ParamErrorf(pihu.EParameterInvalid, "remaining", "Give the credits as a whole number, such as 10000, or leave it empty.")
	}
	c := &pihu.Credits{Remaining: n}
	if interval == "" {
		if amount != "" || day != "" {
			return nil, pihu.ParamErrorf(pihu.EParameterMissing, "refill", "Choose when the credits are refilled, or leave the refill's amount and day empty.")
		}
		return c, nil
	}
	a, err := strconv.ParseInt(amount, 10, 64)
	if err != nil {
		return nil, pihu.ParamErrorf(pihu.EParameterInvalid, "refill", "Give the refill's amount as a whole number, such as 10000.")
	}
	c.Refill = &pihu.Refill{Interval: interval, Amount: a}
	if day != "" {
		d, err := strconv.Atoi(day)
		switch {
		case interval != pihu.RefillMonthly:
			return nil, pihu.ParamErrorf(pihu.EParameterInvalid, "refill_day", "Only a monthly refill has a day: choose every month, or leave the day empty.")
		case err != nil || d < 1 || d > 31:
			return nil, pihu.ParamErrorf(pihu.EParameterInvalid, "refill_day", "Give the day of the month as a whole number from 1 to 31 (31 is every month's last day).")
		}
		c.Refill.Day = d
	}
	if err := c.Refill.Validate("refill"); err != nil {
		return nil, err
	}
	return c, nil
}

// updateIdentityCredits adds to an identity's credits, or sets them, as
// PATCH /v1/identities/{id} with "add" or "remaining" does; the change
// reaches its keys at once, on every instance.
func (h *Handler) updateIdentityCredits(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	env := identityEnvironment(r.PostForm.Get("environment"))
	change := &pihu.IdentityChange{}
	var err error
	number := func(name string) (*int64, error) {
		raw := strings.TrimSpace(r.PostForm.Get(name))
		if raw == "" {
			return nil, nil
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil, pihu.ParamErrorf(pihu.EParameterInvalid, name, "Give the credits as a whole number, such as 1000.")
		}
		return &n, nil
	}
	var set *int64
	if change.Add, err = number("add"); err == nil {
		set, err = number("remaining")
	}
	if set != nil {
		change.Remaining = pihu.Some(*set)
	}
	if err == nil && change.Add == nil && set == nil {
		err = pihu.Errorf(pihu.EParameterMissing, "Give the credits to add, or the credits to set.")
	}
	if err == nil {
		err = change.Validate()
	}
	now := h.now()
	var i *pihu.Identity
	if err == nil {
		i, err = h.store.UpdateIdentity(r.Context(), pihu.IdentityUpdate{
			Scope: pihu.Scope{AccountID: s.account.ID, Environment: env}, ID: r.PathValue("id"),
			Apply: func(i *pihu.Identity) error {
				i.Updated = pihu.Timestamp(now)
				return change.ApplyCredits(i, now)
			},
			Event: func(i *pihu.Identity) *pihu.AuditEvent {
				ev := pihu.NewIdentityEvent(pihu.ActionIdentityUpdated, s.user.ID, h.clientIP(r), i, now)
				ev.Changes = change.Fields()
				return ev
			},
		})
	}
	h.identityUpdated(w, r, s, env, i, err)
}

// identityUpdated answers a change to identity i of environment env that
// the store made, or refused with err: the change reaches its keys on
// every instance, and the person goes back to the identities page.
func (h *Handler) identityUpdated(w http.ResponseWriter, r *http.Request, s *session, env pihu.Environment, i *pihu.Identity, err error) {
	switch pihu.ErrorCode(err) {
	case "":
		h.auth.InvalidateIdentity(i.ID)
		http.Redirect(w, r, "/identities?env="+string(env)+"#"+i.ID, http.StatusSeeOther)
	case pihu.ENotFound:
		h.errorPage(w, r, s, http.StatusNotFound, "Identity not found", "This account has no identity with this id in this environment, or it has been deleted.")
	case pihu.EParameterInvalid, pihu.EParameterMissing:
		f := newForm(nil)
		f.Message = pihu.ErrorMessage(err)
		h.renderIdentities(w, r, s, http.StatusBadRequest, env, f, "")
	default:
		h.internalError(w, r, err)
	}
}

// updateIdentityLimits replaces an identity's named limits, as PATCH
// /v1/identities/{id} does with ratelimits (empty: none).
func (h *Handler) updateIdentityLimits(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	env := identityEnvironment(r.PostForm.Get("environment"))
	named, err := pihu.ParseNamedLimitsText(r.PostForm.Get("ratelimits"), "ratelimits")
	if err != nil {
		f := newForm(nil)
		f.Message = pihu.ErrorMessage(err)
		h.renderIdentities(w, r, s, http.StatusBadRequest, env, f, "")
		return
	}
	change := &pihu.IdentityChange{RateLimits: pihu.Optional[pihu.NamedLimits]{Set: true, Null: named == nil, Value: named}}
	now, ip := h.now(), h.clientIP(r)
	i, err := h.store.UpdateIdentity(r.Context(), pihu.IdentityUpdate{
		Scope: pihu.Scope{AccountID: s.account.ID, Environment: env}, ID: r.PathValue("id"),
		Apply: func(i *pihu.Identity) error { change.Apply(i, now); return nil },
		Event: func(i *pihu.Identity) *pihu.AuditEvent {
			ev := pihu.NewIdentityEvent(pihu.ActionIdentityUpdated, s.user.ID, ip, i, now)
			ev.Changes = change.Fields()
			return ev
		},
	})
	h.identityUpdated(w, r, s, env, i, err)
}
