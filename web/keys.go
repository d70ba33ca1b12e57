package web

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
)

// Warnings on the keys page: a key this old should be rotated, and one
// this close to its expiry soon stops working.
const (
	oldKeyAge    = 90 * 24 * time.Hour
	expiringSoon = 7 * 24 * time.Hour
)

// keyRow is a key as the keys page lists it.
type keyRow struct {
	*pihu.Key
	// Warning is why the key needs attention, if it does.
	Warning string
	Expired bool
	// Remaining is the credits left now (a refill due included), and
	// NextRefill when they next come back; nil without credits, or
	// without a refill.
	Remaining  *int64
	NextRefill *time.Time
	// Metadata is the key's metadata, indented for reading; "" if none.
	Metadata string
	// RoleRefs are the key's roles, by name (see withRoles).
	RoleRefs []roleRef
	// On the keys page, a key being rotated and its successor are one
	// row (see pairRotations): the successor's, with Rotating the old key
	// still working until it expires; an old key whose successor is not
	// on the page has its own row, with ReplacedBy its successor.
	Rotating, ReplacedBy *pihu.Key
}

// roleRef is a role a key holds, as pages name it.
type roleRef struct{ ID, Name string }

// withRoles names the roles of the keys of rows, from their account's
// roles (read once, if any key holds a role).
func (h *Handler) withRoles(r *http.Request, accountID string, rows []keyRow) error {
	var roles []*pihu.KeyRole
	for i := range rows {
		if len(rows[i].Key.Roles) == 0 {
			continue
		}
		if roles == nil {
			var err error
			if roles, err = h.store.Roles(r.Context(), accountID); err != nil {
				return err
			}
		}
		for _, id := range rows[i].Key.Roles {
			ref := roleRef{ID: id, Name: id}
			for _, role := range roles {
				if role.ID == id {
					ref.Name = role.Name
				}
			}
			rows[i].RoleRefs = append(rows[i].RoleRefs, ref)
		}
	}
	return nil
}

func (h *Handler) keyRow(k *pihu.Key) keyRow {
	now := h.now()
	row := keyRow{Key: k}
	if c := k.Credits; c != nil {
		remaining, _ := c.At(now)
		row.Remaining, row.NextRefill = &remaining, c.NextRefill(now)
	}
	if k.Metadata != nil {
		var b bytes.Buffer
		if json.Indent(&b, k.Metadata, "", "  ") == nil {
			row.Metadata = b.String()
		}
	}
	switch {
	case k.Expires != nil && !now.Before(*k.Expires):
		row.Expired, row.Warning = true, "Expired"
	case k.Expires != nil && k.Expires.Sub(now) <= expiringSoon:
		row.Warning = "Expires within 7 days"
	case now.Sub(k.Created) >= oldKeyAge:
		row.Warning = "Over 90 days old: rotate it"
	}
	return row
}

type keysData struct {
	Env       pihu.Environment
	Keys      []keyRow
	HasMore   bool
	CanManage bool
	Notice    string
	// Filter is the search and filters of the page, as its URL gives
	// them; Roles are the account's roles, the role filter's choices.
	Filter keysFilter
	Roles  []*pihu.KeyRole
	// Live, Test and Next are the links of the environment switch and
	// of the next page, which keep the search and filters.
	Live, Test, Next template.URL
}

// keysFilter is the keys page's search and filters, read from its URL
// (a GET form): the parameters of the API's list that the page offers,
// with status for the state of a key (revoked keys are not in the
// API's list).
type keysFilter struct {
	NamePrefix string // name_prefix
	Status     string // status: "" (all but revoked), enabled, disabled or revoked
	Role       string // role: a role id, or "" for any
}

// keyStatus is a choice of the status filter, as the page names it, and
// how it sets the list's filter.
type keyStatus struct {
	Value, Label string
	set          func(*pihu.KeyFilter)
}

// keyStatuses are the status filter's choices.
var keyStatuses = []keyStatus{
	{"", "All but revoked", func(*pihu.KeyFilter) {}},
	{"enabled", "Enabled", func(f *pihu.KeyFilter) { f.Enabled = new(true) }},
	{"disabled", "Disabled", func(f *pihu.KeyFilter) { f.Enabled = new(false) }},
	{"revoked", "Revoked", func(f *pihu.KeyFilter) { f.Revoked = true }},
}

// Active reports whether any filter is set.
func (f keysFilter) Active() bool { return f != keysFilter{} }

// Statuses are the status filter's choices.
func (keysFilter) Statuses() []keyStatus { return keyStatuses }

// url is the keys page of environment env with f, after the key
// startingAfter ("" for the first page).
func (f keysFilter) url(env pihu.Environment, startingAfter string) template.URL {
	q := url.Values{"env": {string(env)}}
	for name, v := range map[string]string{"name_prefix": f.NamePrefix, "status": f.Status, "role": f.Role, "starting_after": startingAfter} {
		if v != "" {
			q.Set(name, v)
		}
	}
	return template.URL("/keys?" + q.Encode()) // every value escaped by Encode
}

// keysPage lists the account's keys of one environment, live or test, as
// Stripe's test-mode switch does; never their secrets. A GET form
// searches them by name prefix and filters them by status and role, as
// the API's list does (pihu.KeyFilter, validated by the store): the
// filters stay in the URL, so that a search can be shared, reloaded, and
// paged.
func (h *Handler) keysPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	env, ok := parseEnv(q.Get("env"))
	if !ok {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The environment must be live or test.")
		return
	}
	v := view{Title: "API keys", Me: s.user, Account: s.account, Nav: "keys", Env: env}
	f := keysFilter{NamePrefix: strings.TrimSpace(q.Get("name_prefix")), Status: q.Get("status"), Role: q.Get("role")}
	lf := pihu.KeyFilter{AccountID: s.account.ID, Environment: env, Limit: 25, StartingAfter: q.Get("starting_after"),
		NamePrefix: f.NamePrefix, Role: f.Role}
	i := slices.IndexFunc(keyStatuses, func(st keyStatus) bool { return st.Value == f.Status })
	if i < 0 {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The status must be enabled, disabled or revoked.")
		return
	}
	keyStatuses[i].set(&lf)
	keys, more, err := h.store.ListKeys(r.Context(), lf)
	if pihu.ErrorCode(err) == pihu.EParameterInvalid {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", pihu.ErrorMessage(err))
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	roles, err := h.store.Roles(r.Context(), s.account.ID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	d := keysData{Env: env, HasMore: more, CanManage: s.user.Role.CanManageKeys(), Filter: f, Roles: roles,
		Live: f.url(pihu.Live, ""), Test: f.url(pihu.Test, "")}
	for _, k := range keys {
		d.Keys = append(d.Keys, h.keyRow(k))
	}
	if err := h.withRoles(r, s.account.ID, d.Keys); err != nil {
		h.internalError(w, r, err)
		return
	}
	if d.Keys, err = h.pairRotations(r, d.Keys); err != nil {
		h.internalError(w, r, err)
		return
	}
	if more {
		d.Next = f.url(env, keys[len(keys)-1].ID)
	}
	if id := q.Get("revoked"); strings.HasPrefix(id, pihu.PrefixKey) && len(id) < 64 {
		d.Notice = "The key " + id + " was revoked: the API refuses it from now on."
	}
	v.Data = d
	h.render(w, r, http.StatusOK, "keys", v)
}

// parseEnv reads the environment of a page: live (the default) or test.
func parseEnv(s string) (pihu.Environment, bool) {
	switch s {
	case "", "live":
		return pihu.Live, true
	case "test":
		return pihu.Test, true
	}
	return "", false
}

// keyFormData is the create form.
type keyFormData struct {
	Form        *form
	Permissions []permissionChoice
	Roles       []*pihu.KeyRole
	// Identities are the account's identities, live then test, that the
	// create form offers to make the key for.
	Identities []*pihu.Identity
}

// permissionChoice is one box of the create form: a permission, what it
// allows, and where it comes from (pihu.PermissionSource…).
type permissionChoice struct {
	Name, Description, Source string
}

// permissionChoices are the create form's boxes: "*", every permission of
// the built-in catalogue, then the server-wide ones and the account's
// own (defined), with their descriptions.
func permissionChoices(defined []*pihu.DefinedPermission) []permissionChoice {
	out := []permissionChoice{{Name: string(pihu.Wildcard), Description: "everything", Source: pihu.PermissionSourceBuiltIn}}
	for _, p := range pihu.Catalogue {
		out = append(out, permissionChoice{string(p), pihu.BuiltInDescription(p), pihu.PermissionSourceBuiltIn})
	}
	for _, p := range defined {
		out = append(out, permissionChoice{string(p.Name), p.Description, p.Source()})
	}
	return out
}

// permissionPreset is a choice of the forms' presets: the boxes it ticks
// (every other box is unticked), space-separated.
type permissionPreset struct {
	Label, Permissions string
}

// permissionPresets are the presets of a form offering choices: read-only
// (every "…:read" permission), then full access to each resource (every
// action of it), in the order of choices.
func permissionPresets(choices []permissionChoice) []permissionPreset {
	var reads []string
	actions := map[string][]string{}
	var resources []string
	for _, c := range choices {
		res, action, ok := strings.Cut(c.Name, ":")
		if !ok || action == "*" {
			continue
		}
		if action == "read" {
			reads = append(reads, c.Name)
		}
		if _, seen := actions[res]; !seen {
			resources = append(resources, res)
		}
		actions[res] = append(actions[res], c.Name)
	}
	var out []permissionPreset
	if len(reads) > 0 {
		out = append(out, permissionPreset{"Read-only: every …:read permission", strings.Join(reads, " ")})
	}
	for _, res := range resources {
		out = append(out, permissionPreset{"Full access to " + res + ": " + strings.Join(actions[res], ", "), strings.Join(actions[res], " ")})
	}
	return out
}

func (h *Handler) newKeyPage(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(nil)
	env, ok := parseEnv(r.URL.Query().Get("env"))
	if !ok {
		env = pihu.Live
	}
	f.Values.Set("environment", string(env))
	defined, roles, err := h.keyChoices(r, s.account.ID)
	var identities []*pihu.Identity
	if err == nil {
		identities, err = h.identityChoices(r, s.account.ID)
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if id := r.URL.Query().Get("identity"); id != "" {
		f.Values.Set("identity_id", id)
	}
	h.render(w, r, http.StatusOK, "key_new", view{Title: "Create an API key", Me: s.user, Account: s.account, Nav: "keys",
		Data: keyFormData{Form: f, Permissions: permissionChoices(defined), Roles: roles, Identities: identities}})
}

// identityChoices are the identities the create form offers: the
// account's live ones, then its test ones (the first 100 of each).
func (h *Handler) identityChoices(r *http.Request, accountID string) ([]*pihu.Identity, error) {
	var out []*pihu.Identity
	for _, env := range []pihu.Environment{pihu.Live, pihu.Test} {
		list, _, err := h.store.ListIdentities(r.Context(), pihu.IdentityFilter{
			Scope: pihu.Scope{AccountID: accountID, Environment: env}, Page: pihu.Page{Limit: 100}})
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

// keyChoices are what a key form offers of the account: its own
// permissions, beside the built-in ones, and its roles.
func (h *Handler) keyChoices(r *http.Request, accountID string) ([]*pihu.DefinedPermission, []*pihu.KeyRole, error) {
	defined, err := h.store.DefinedPermissions(r.Context(), accountID)
	if err != nil {
		return nil, nil, err
	}
	roles, err := h.store.Roles(r.Context(), accountID)
	return defined, roles, err
}

// keyFields are the create form's fields, by the API's names.
var keyFields = []string{"name", "permissions", "roles", "expiration", "environment", "allowed_ips", "rate_limit", "identity_id"}

// createKey creates a key as POST /v1/auth/api-keys does, with the
// account's authority (no creator key: CreatedBy is empty, the event's
// actor is the user), and sends the browser to the one view of its secret
// (303), so that a reload shows the page again without creating a key.
func (h *Handler) createKey(w http.ResponseWriter, r *http.Request, s *session) {
	v := view{Title: "Create an API key", Me: s.user, Account: s.account, Nav: "keys"}
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(r)
	defined, roles, err := h.keyChoices(r, s.account.ID)
	var identities []*pihu.Identity
	if err == nil {
		identities, err = h.identityChoices(r, s.account.ID)
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	fail := func() {
		v.Data = keyFormData{Form: f, Permissions: permissionChoices(defined), Roles: roles, Identities: identities}
		h.render(w, r, http.StatusBadRequest, "key_new", v)
	}
	pf := r.PostForm
	req := pihu.KeyRequest{
		Name:        strings.TrimSpace(pf.Get("name")),
		Expiration:  strings.TrimSpace(pf.Get("expiration")),
		Environment: pihu.Environment(pf.Get("environment")),
		AllowedIPs:  splitList(pf.Get("allowed_ips")),
		// The store checks that it is an identity of the key's account
		// and environment.
		IdentityID: pf.Get("identity_id"),
	}
	if ps := pf["permissions"]; len(ps) > 0 {
		for _, p := range ps {
			req.Permissions = append(req.Permissions, pihu.Permission(p))
		}
	}
	// Each field is checked on its own first, so that the form shows
	// every mistake at once; NewKey then checks them all again, as the
	// API does.
	f.Fail(pihu.ValidateKeyName(req.Name), keyFields...)
	req.Defined = pihu.PermissionNames(defined)
	if ids := pf["roles"]; len(ids) > 0 {
		req.Roles, req.AccountRoles = ids, roles
		_, err := pihu.FindRoles(ids, roles)
		f.Fail(err, keyFields...)
	}
	if req.Permissions == nil && req.Roles == nil {
		f.Errors["permissions"] = "Choose at least one permission or role."
	} else {
		f.Fail(req.Permissions.ValidateIn(req.Defined), keyFields...)
	}
	if req.Expiration != "" {
		_, err := pihu.ParseExpiration(req.Expiration)
		f.Fail(err, keyFields...)
	}
	if !req.Environment.Valid() {
		f.Errors["environment"] = "Choose live or test."
	}
	if req.AllowedIPs != nil {
		_, err := pihu.ParseAllowedIPs(req.AllowedIPs)
		f.Fail(err, keyFields...)
	}
	if raw := strings.TrimSpace(pf.Get("rate_limit")); raw != "" {
		req.RateLimit = &raw
		_, err := pihu.ParseRateLimit(raw, "rate_limit")
		f.Fail(err, keyFields...)
	}
	if len(f.Errors) > 0 || f.Message != "" {
		fail()
		return
	}
	k, secret, err := pihu.NewKey(s.account.ID, req, nil, h.now())
	if err != nil {
		if !f.Fail(err, keyFields...) {
			h.internalError(w, r, err)
			return
		}
		fail()
		return
	}
	ev := pihu.NewAuditEvent(pihu.ActionKeyCreated, s.user.ID, h.clientIP(r), k, k.Created)
	if err := h.store.CreateKey(r.Context(), k, ev); err != nil {
		if !f.Fail(err, keyFields...) {
			h.internalError(w, r, err)
			return
		}
		fail()
		return
	}
	rows := []keyRow{h.keyRow(k)}
	if err := h.withRoles(r, s.account.ID, rows); err != nil {
		h.internalError(w, r, err)
		return
	}
	view := h.once.put(s.digest, k.ID, keyCreatedData{Key: rows[0], Secret: secret})
	http.Redirect(w, r, "/keys/"+k.ID+"/secret/"+view, http.StatusSeeOther)
}

// keySecretPage shows a new key's secret (made by createKey or rotateKey)
// on its one view; any later view, a reload included, says it was shown
// once.
func (h *Handler) keySecretPage(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	data, _ := h.once.take(s.digest, id, r.PathValue("view"))
	d, ok := data.(keyCreatedData)
	if !ok {
		h.shownOnce(w, r, s, "keys", shownOnceData{
			What:    "Secret key",
			Message: "The secret of this key was shown once, on the page that followed its creation, and cannot be shown again: Pihu keeps only its hash. If you did not copy it, rotate the key to get a new secret.",
			Link:    "/keys/" + id, LinkLabel: "View the key",
			Back: "/keys", BackLabel: "Back to keys",
		})
		return
	}
	title := "API key created"
	if d.Old != nil {
		title = "API key rotated"
	}
	h.render(w, r, http.StatusOK, "key_created", view{Title: title, Me: s.user, Account: s.account, Nav: "keys", Data: d})
}

// splitList reads a list typed one item a line or separated by commas;
// nil if it holds none.
func splitList(s string) []string {
	out := strings.FieldsFunc(s, func(c rune) bool { return c == ',' || c == '\n' || c == '\r' || c == ' ' || c == '\t' })
	if len(out) == 0 {
		return nil
	}
	return out
}

// keyCreatedData is the page that shows a new key's secret, once.
type keyCreatedData struct {
	Key    keyRow
	Secret string
	// Old is the key a rotation replaced, and OldEnds when it stops
	// working.
	Old     *pihu.Key
	OldEnds *time.Time
}

// eventRow is an audit event as pages show it: its actor and target by
// name where the account knows them.
type eventRow struct {
	*pihu.AuditEvent
	ActorName  string
	TargetName string
	TargetLink string
	// Words is the event as a sentence (see eventWords).
	Words string
}

// eventRows names the actors and targets of events: users by email, keys
// by name.
func (h *Handler) eventRows(r *http.Request, accountID string, events []*pihu.AuditEvent) ([]eventRow, error) {
	users, err := h.store.ListUsers(r.Context(), accountID)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string)
	for _, u := range users {
		names[u.ID] = u.Email
		if u.Email == "" {
			names[u.ID] = "owner (not set up yet)"
		}
	}
	keys := make(map[string]*pihu.Key)
	keyName := func(id string) string {
		if !strings.HasPrefix(id, pihu.PrefixKey) {
			return ""
		}
		k, ok := keys[id]
		if !ok {
			k, _ = h.store.Key(r.Context(), accountID, id)
			keys[id] = k
		}
		if k == nil {
			return ""
		}
		return k.Name
	}
	var roles []*pihu.KeyRole
	out := make([]eventRow, 0, len(events))
	for _, ev := range events {
		row := eventRow{AuditEvent: ev, ActorName: names[ev.Actor], TargetName: names[ev.Target]}
		if row.ActorName == "" {
			row.ActorName = keyName(ev.Actor)
		}
		switch {
		case strings.HasPrefix(ev.Target, pihu.PrefixKey):
			row.TargetName = keyName(ev.Target)
			row.TargetLink = "/keys/" + ev.Target
		case strings.HasPrefix(ev.Target, pihu.PrefixRole):
			row.TargetLink = "/roles/" + ev.Target
			if roles == nil {
				if roles, err = h.store.Roles(r.Context(), accountID); err != nil {
					return nil, err
				}
			}
			if i := slices.IndexFunc(roles, func(role *pihu.KeyRole) bool { return role.ID == ev.Target }); i >= 0 {
				row.TargetName = roles[i].Name
			}
		}
		row.Words = eventWords(ev, row.TargetName, keys[ev.Target])
		out = append(out, row)
	}
	return out, nil
}

type keyData struct {
	Key       keyRow
	Events    []eventRow
	MoreEvent bool
	Hourly    *chart
	Daily     *chart
	NoUsage   bool
	CanManage bool
	// Saved is what the edit form just did (?saved=N, N the fields it
	// changed): "changed", "nothing", or "" when the page does not follow
	// an edit.
	Saved string
	// Successor is the key that replaced this one by a rotation, if any:
	// the page says so, links it, and offers no rotation again.
	Successor *pihu.Key
	// Requests is the key's recent requests, with the page's filters.
	Requests requestsData
}

// keyPage shows one key: its details, its history and its usage. Another
// account's key, or an unknown id, is a 404.
func (h *Handler) keyPage(w http.ResponseWriter, r *http.Request, s *session) {
	k, ok := h.findKey(w, r, s, true)
	if !ok {
		return
	}
	events, more, err := h.store.ListAuditEvents(r.Context(), pihu.AuditFilter{AccountID: s.account.ID, Target: k.ID, Limit: 20})
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	rows, err := h.eventRows(r, s.account.ID, events)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	d := keyData{Key: h.keyRow(k), Events: rows, MoreEvent: more, CanManage: s.user.Role.CanManageKeys() && k.Revoked == nil}
	if d.Successor, err = h.successor(r, k); err != nil {
		h.internalError(w, r, err)
		return
	}
	switch saved := r.URL.Query().Get("saved"); {
	case saved == "0":
		d.Saved = "nothing"
	case saved != "":
		d.Saved = "changed"
	}
	keys := []keyRow{d.Key}
	if err := h.withRoles(r, s.account.ID, keys); err != nil {
		h.internalError(w, r, err)
		return
	}
	d.Key = keys[0]
	if d.Requests, err = h.keyRequests(r, k); err != nil {
		h.internalError(w, r, err)
		return
	}
	if h.usage == nil {
		d.NoUsage = true
	} else {
		now := h.now().UTC()
		from, to := usageWindow(now)
		counts, err := h.usage.Usage(r.Context(), s.account.ID, k.ID, from, to)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		d.Hourly, d.Daily = hourlyChart(counts, now), dailyChart(counts, now)
	}
	h.render(w, r, http.StatusOK, "key", view{Title: k.Name, Me: s.user, Account: s.account, Nav: "keys", Env: k.Environment, Data: d})
}

// findKey returns the key of the path's {id} in the visitor's account
// (revoked keys too if withRevoked), or answers 404 and returns false.
func (h *Handler) findKey(w http.ResponseWriter, r *http.Request, s *session, withRevoked bool) (*pihu.Key, bool) {
	k, err := h.store.Key(r.Context(), s.account.ID, r.PathValue("id"))
	if err == nil && k.Revoked != nil && !withRevoked {
		err = pihu.Errorf(pihu.ENotFound, "revoked")
	}
	if pihu.ErrorCode(err) == pihu.ENotFound {
		h.errorPage(w, r, s, http.StatusNotFound, "Key not found", "This account has no key with this id, or it has been revoked.")
		return nil, false
	}
	if err != nil {
		h.internalError(w, r, err)
		return nil, false
	}
	return k, true
}

type revokeData struct {
	Key keyRow
}

func (h *Handler) revokePage(w http.ResponseWriter, r *http.Request, s *session) {
	k, ok := h.findKey(w, r, s, false)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "key_revoke", view{Title: "Revoke " + k.Name, Me: s.user, Account: s.account, Nav: "keys", Data: revokeData{Key: h.keyRow(k)}})
}

// revokeKey revokes a key (and with cascade every key it created) through
// the store's one transaction, as DELETE /v1/auth/api-keys/{id} does, and
// drops each from the API's cache, so that the API refuses them on their
// next request.
func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	k, ok := h.findKey(w, r, s, false)
	if !ok {
		return
	}
	now, ip := h.now(), h.clientIP(r)
	owner := ownerCreator(s.account.ID)
	revoked, err := h.store.RevokeKeys(r.Context(), pihu.Revocation{
		AccountID: s.account.ID, ID: k.ID, At: now, Cascade: r.PostForm.Get("cascade") == "true",
		Check: func(target *pihu.Key) error { return pihu.CheckRevoke(owner, target) },
		Event: func(target *pihu.Key) *pihu.AuditEvent {
			return pihu.NewAuditEvent(pihu.ActionKeyRevoked, s.user.ID, ip, target, now)
		},
	})
	if pihu.ErrorCode(err) == pihu.ENotFound {
		h.errorPage(w, r, s, http.StatusNotFound, "Key not found", "This account has no key with this id, or it has been revoked.")
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	for _, k := range revoked {
		h.auth.Invalidate(k.ID)
	}
	http.Redirect(w, r, "/keys?env="+string(k.Environment)+"&revoked="+k.ID, http.StatusSeeOther)
}

// toggleKey disables or enables a key (enabled=false|true) as PATCH
// /v1/auth/api-keys/{id} with "enabled" does, with the account's
// authority: the same rules (pihu.KeyChange), the same audit and webhook
// events (api_key.disabled, api_key.enabled) with the user as actor, and
// the key dropped from every instance's cache; then back to the key's
// page (303).
func (h *Handler) toggleKey(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	var enabled bool
	switch r.PostForm.Get("enabled") {
	case "true":
		enabled = true
	case "false":
	default:
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "Say whether to enable the key: true or false.")
		return
	}
	k, ok := h.findKey(w, r, s, false)
	if !ok {
		return
	}
	err := h.changeKey(r, s, k, &pihu.KeyChange{Enabled: &enabled})
	if pihu.ErrorCode(err) == pihu.ENotFound {
		h.errorPage(w, r, s, http.StatusNotFound, "Key not found", "This account has no key with this id, or it has been revoked.")
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/keys/"+k.ID, http.StatusSeeOther)
}

// changeKey makes change to k as PATCH /v1/auth/api-keys/{id} does, with
// the account's authority: the same rules (pihu.KeyChange.Apply, against
// the key as stored in the transaction), the same audit and webhook events
// with the user as actor, and the key dropped from every instance's cache.
// Returns the store's error: ENotFound for a key revoked meanwhile, a
// domain error for a change the rules refuse.
func (h *Handler) changeKey(r *http.Request, s *session, k *pihu.Key, change *pihu.KeyChange) error {
	now, ip := h.now(), h.clientIP(r)
	owner := ownerCreator(s.account.ID)
	_, err := h.store.UpdateKey(r.Context(), pihu.KeyUpdate{AccountID: s.account.ID, ID: k.ID,
		Apply:  func(k *pihu.Key) error { return change.Apply(owner, k, now) },
		Events: func(k *pihu.Key) []*pihu.AuditEvent { return change.Events(s.user.ID, ip, k, now) },
	})
	if err == nil {
		h.auth.Invalidate(k.ID)
	}
	return err
}

// pairRotations makes a key being rotated (still working until it
// expires) and its successor one row of rows: the successor's, which
// names the old key and when it stops. An old key whose successor is not
// among rows (another page, a search), or is itself being rotated, keeps
// its row, which names the successor.
func (h *Handler) pairRotations(r *http.Request, rows []keyRow) ([]keyRow, error) {
	p := newRotations(rows, h.now())
	out := make([]keyRow, 0, len(rows))
	for _, row := range rows {
		if p.merged(row.ID) {
			continue // shown in its successor's row
		}
		if i, ok := p.next[row.ID]; ok {
			row.ReplacedBy = rows[i].Key
		} else if p.rotating(row.Key) {
			next, _, err := h.store.ListKeys(r.Context(), pihu.KeyFilter{AccountID: row.AccountID, RotatedFrom: row.ID, Limit: 1})
			if err != nil {
				return nil, err
			}
			row.ReplacedBy = first(next)
		}
		row.Rotating = p.oldKey(row)
		out = append(out, row)
	}
	return out, nil
}

// rotations pairs the rows of a keys page: an old key being rotated with
// its successor, when both are among the rows and the successor works.
type rotations struct {
	rows []keyRow
	now  time.Time
	at   map[string]int // a key's id: its row
	next map[string]int // a paired old key's id: its successor's row
}

func newRotations(rows []keyRow, now time.Time) *rotations {
	p := &rotations{rows: rows, now: now, at: make(map[string]int, len(rows)), next: make(map[string]int)}
	for i, row := range rows {
		p.at[row.ID] = i
	}
	for i, row := range rows {
		j, ok := p.at[row.RotatedFrom]
		if ok && row.Revoked == nil && (row.Expires == nil || now.Before(*row.Expires)) && p.rotating(rows[j].Key) {
			p.next[row.RotatedFrom] = i
		}
	}
	return p
}

// rotating reports whether k is being rotated: not revoked, and working
// until an expiry still to come.
func (p *rotations) rotating(k *pihu.Key) bool {
	return k.Revoked == nil && k.Expires != nil && p.now.Before(*k.Expires)
}

// merged reports whether the key id is shown in its successor's row: it
// is paired, and its successor is not itself an old key paired with a
// successor of its own (the middle of a chain keeps its row).
func (p *rotations) merged(id string) bool {
	i, ok := p.next[id]
	if !ok {
		return false
	}
	_, chained := p.next[p.rows[i].ID]
	return !chained
}

// oldKey is the old key that row's row shows beside it: the key row
// replaced, when the two are paired, unless row is itself paired with a
// successor (then its old key has its own row).
func (p *rotations) oldKey(row keyRow) *pihu.Key {
	if _, paired := p.next[row.ID]; paired {
		return nil
	}
	if i, paired := p.next[row.RotatedFrom]; paired && p.rows[i].ID == row.ID {
		return p.rows[p.at[row.RotatedFrom]].Key
	}
	return nil
}

// successor is the key that replaced k by a rotation (revoked or not),
// or nil if none did.
func (h *Handler) successor(r *http.Request, k *pihu.Key) (*pihu.Key, error) {
	for _, revoked := range []bool{false, true} {
		keys, _, err := h.store.ListKeys(r.Context(), pihu.KeyFilter{AccountID: k.AccountID, RotatedFrom: k.ID, Revoked: revoked, Limit: 1})
		if err != nil || len(keys) > 0 {
			return first(keys), err
		}
	}
	return nil, nil
}

// first is the first of keys, or nil.
func first(keys []*pihu.Key) *pihu.Key {
	if len(keys) == 0 {
		return nil
	}
	return keys[0]
}

// ownerCreator is the creator of the keys the dashboard makes or rotates:
// the account's own authority, as an owner key has it (every permission,
// live, anywhere), with no id, so that the keys it makes have no CreatedBy
// and no key's revocation cascades to them.
func ownerCreator(accountID string) *pihu.Key {
	return &pihu.Key{AccountID: accountID, Environment: pihu.Live, Permissions: pihu.Permissions{pihu.Wildcard}}
}

// graceChoices are the rotate form's grace periods.
var graceChoices = []struct{ Value, Label string }{
	{pihu.ExpireNow, "End it now"},
	{"1h", "In 1 hour"},
	{"24h", "In 24 hours"},
	{"7d", "In 7 days"},
}

type rotateData struct {
	Key    keyRow
	Form   *form
	Grace  []struct{ Value, Label string }
	Status int
}

func (h *Handler) rotatePage(w http.ResponseWriter, r *http.Request, s *session) {
	k, ok := h.findKey(w, r, s, false)
	if !ok {
		return
	}
	next, err := h.successor(r, k)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if next != nil {
		h.errorPage(w, r, s, http.StatusConflict, "Already rotated",
			"This key was already replaced by "+next.Name+" ("+next.ID+"): it stops when its grace period ends. Rotate the new key instead.")
		return
	}
	f := newForm(nil)
	f.Values.Set("expire_old_in", "24h")
	h.render(w, r, http.StatusOK, "key_rotate", view{Title: "Rotate " + k.Name, Me: s.user, Account: s.account, Nav: "keys",
		Data: rotateData{Key: h.keyRow(k), Form: f, Grace: graceChoices}})
}

// rotateKey replaces a key by a new one with its settings, as POST
// /v1/auth/api-keys/{id}/rotate does, ends the old one after the grace
// period chosen, drops it from the API's cache, and sends the browser to
// the one view of the new secret (303).
func (h *Handler) rotateKey(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	old, ok := h.findKey(w, r, s, false)
	if !ok {
		return
	}
	v := view{Title: "Rotate " + old.Name, Me: s.user, Account: s.account, Nav: "keys"}
	f := newForm(r)
	fail := func(status int) {
		v.Data = rotateData{Key: h.keyRow(old), Form: f, Grace: graceChoices}
		h.render(w, r, status, "key_rotate", v)
	}
	grace, err := pihu.ParseExpireOldIn(r.PostForm.Get("expire_old_in"))
	if err != nil {
		f.Fail(err, "expire_old_in")
		fail(http.StatusBadRequest)
		return
	}
	next, secret, err := old.Successor(ownerCreator(s.account.ID), h.now())
	if err != nil {
		if !f.Fail(err) {
			h.internalError(w, r, err)
			return
		}
		fail(http.StatusBadRequest)
		return
	}
	ip := h.clientIP(r)
	changed, err := h.store.RotateKey(r.Context(), next, next.Created.Add(grace),
		pihu.NewAuditEvent(pihu.ActionKeyCreated, s.user.ID, ip, next, next.Created),
		pihu.NewAuditEvent(pihu.ActionKeyRotated, s.user.ID, ip, old, next.Created))
	switch pihu.ErrorCode(err) {
	case "":
	case pihu.ENotFound:
		h.errorPage(w, r, s, http.StatusNotFound, "Key not found", "This account has no key with this id, or it has been revoked.")
		return
	case pihu.EAlreadyRotated:
		f.Message = "This key has been rotated already: its successor is live, and it ends with its grace period. Rotate the successor instead."
		fail(http.StatusConflict)
		return
	default:
		if !f.Fail(err) {
			h.internalError(w, r, err)
			return
		}
		fail(http.StatusBadRequest)
		return
	}
	h.auth.Invalidate(old.ID)
	ends := changed.Revoked
	if ends == nil {
		ends = changed.Expires
	}
	view := h.once.put(s.digest, next.ID, keyCreatedData{Key: h.keyRow(next), Secret: secret, Old: changed, OldEnds: ends})
	http.Redirect(w, r, "/keys/"+next.ID+"/secret/"+view, http.StatusSeeOther)
}
