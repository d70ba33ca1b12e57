package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
)

// The key's edit page: everything PATCH /v1/auth/api-keys/{id} changes
// but its credits' refill (name, permissions, roles, expiry, rate limit,
// allowed addresses, metadata, credits left), through the same rules
// (pihu.KeyChange) with the account's authority, as the dashboard's other
// key actions.

// keyEditFields are the key edit form's fields, by the API's names.
var keyEditFields = []string{"name", "permissions", "roles", "expires", "rate_limit", "ratelimits", "allowed_ips", "metadata", "remaining"}

// expiresLayout is how the form shows and reads an expiry: a date, the
// key then expiring at its start, 00:00 UTC.
const expiresLayout = "2006-01-02"

type keyEditData struct {
	Key         keyRow
	Form        *form
	Permissions []permissionChoice
	Roles       []*pihu.KeyRole
}

// editValues are the form's values for k as it is.
func editValues(k *pihu.Key) map[string][]string {
	v := map[string][]string{
		"name":        {k.Name},
		"rate_limit":  {""},
		"ratelimits":  {k.RateLimits.String()},
		"allowed_ips": {strings.Join(k.AllowedIPs.Strings(), "\n")},
		"expires":     {""},
		"metadata":    {""},
		"remaining":   {""},
	}
	for _, p := range k.Permissions {
		v["permissions"] = append(v["permissions"], string(p))
	}
	v["roles"] = slices.Clone(k.Roles)
	if !k.RateLimit.IsZero() {
		v["rate_limit"] = []string{k.RateLimit.String()}
	}
	if k.Expires != nil {
		v["expires"] = []string{k.Expires.UTC().Format(expiresLayout)}
	}
	if k.Metadata != nil {
		var b bytes.Buffer
		if json.Indent(&b, k.Metadata, "", "  ") == nil {
			v["metadata"] = []string{b.String()}
		}
	}
	if k.Credits != nil {
		v["remaining"] = []string{strconv.FormatInt(k.Credits.Remaining, 10)}
	}
	return v
}

// editKeyPage shows the edit form of a key that is not revoked.
func (h *Handler) editKeyPage(w http.ResponseWriter, r *http.Request, s *session) {
	k, ok := h.findKey(w, r, s, false)
	if !ok {
		return
	}
	f := newForm(nil)
	for name, vs := range editValues(k) {
		f.Values[name] = vs
	}
	h.renderEdit(w, r, s, k, f, http.StatusOK)
}

// renderEdit renders the edit form of k with f's values and errors.
func (h *Handler) renderEdit(w http.ResponseWriter, r *http.Request, s *session, k *pihu.Key, f *form, status int) {
	defined, roles, err := h.keyChoices(r, s.account.ID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	d := keyEditData{Key: h.keyRow(k), Form: f, Permissions: permissionChoices(defined), Roles: roles}
	h.render(w, r, status, "key_edit", view{Title: "Edit " + k.Name, Me: s.user, Account: s.account, Nav: "keys", Data: d})
}

// editKey changes a key as PATCH does: only the fields whose value the
// form changed, checked by pihu.KeyChange as the API checks them, with
// the same audit and webhook events (the user as actor) and the key
// dropped from every instance's cache; then back to the key's page (303),
// which names what was saved. A mistake shows the form again with every
// error next to its field, and changes nothing.
func (h *Handler) editKey(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	k, ok := h.findKey(w, r, s, false)
	if !ok {
		return
	}
	f := newForm(r)
	change, err := h.keyChange(r, s, k, f)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if len(f.Errors) == 0 && f.Message == "" && len(change.Fields()) > 0 {
		err = h.changeKey(r, s, k, change)
		if pihu.ErrorCode(err) == pihu.ENotFound {
			h.errorPage(w, r, s, http.StatusNotFound, "Key not found", "This account has no key with this id, or it has been revoked.")
			return
		}
		if err != nil && !f.Fail(err, keyEditFields...) {
			h.internalError(w, r, err)
			return
		}
	}
	if len(f.Errors) > 0 || f.Message != "" {
		h.renderEdit(w, r, s, k, f, http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, "/keys/"+k.ID+"?saved="+strconv.Itoa(len(change.Fields())), http.StatusSeeOther)
}

// keyChange reads the edit form into the change of k it asks for, each
// field checked on its own so that the form shows every mistake at once
// (recorded on f); the change is then checked whole, as the API checks it.
func (h *Handler) keyChange(r *http.Request, s *session, k *pihu.Key, f *form) (*pihu.KeyChange, error) {
	pf, was := r.PostForm, editValues(k)
	changed := func(name string) bool {
		return strings.TrimSpace(pf.Get(name)) != strings.TrimSpace(strings.Join(was[name], ""))
	}
	c := &pihu.KeyChange{}
	if name := strings.TrimSpace(pf.Get("name")); changed("name") {
		c.Name = &name
		f.Fail(pihu.ValidateKeyName(name), keyEditFields...)
	}
	if err := h.rightsChange(r, s, c, was); err != nil {
		return nil, err
	}
	if len(pf["permissions"]) == 0 && len(pf["roles"]) == 0 {
		f.Errors["permissions"] = "Choose at least one permission or role."
	}
	limitsChange(c, pf, changed, f)
	if ips := splitList(pf.Get("allowed_ips")); !slices.Equal(ips, splitList(strings.Join(was["allowed_ips"], ""))) {
		c.AllowedIPs.Set, c.AllowedIPs.Null, c.AllowedIPs.Value = true, ips == nil, ips
	}
	if raw := strings.TrimSpace(pf.Get("metadata")); changed("metadata") {
		c.Metadata.Set, c.Metadata.Null = true, raw == ""
		if raw != "" {
			c.Metadata.Value = json.RawMessage(raw)
		}
	}
	if len(f.Errors) == 0 && len(c.Fields()) > 0 {
		f.Fail(c.Validate(h.now()), keyEditFields...)
	}
	return c, nil
}

// rightsChange sets on c the permissions and roles of the edit form, if
// they differ from the key's (was), with what checking them needs: the
// account's defined permissions, or its roles.
func (h *Handler) rightsChange(r *http.Request, s *session, c *pihu.KeyChange, was url.Values) error {
	pf := r.PostForm
	if perms := pf["permissions"]; !slices.Equal(perms, was["permissions"]) {
		c.Permissions = pihu.Permissions{}
		for _, p := range perms {
			c.Permissions = append(c.Permissions, pihu.Permission(p))
		}
		defined, err := h.store.DefinedPermissions(r.Context(), s.account.ID)
		if err != nil {
			return err
		}
		c.Defined = pihu.PermissionNames(defined)
	}
	if ids := pf["roles"]; !slices.Equal(ids, was["roles"]) {
		c.Roles = append([]string{}, ids...)
		roles, err := h.store.Roles(r.Context(), s.account.ID)
		if err != nil {
			return err
		}
		c.AccountRoles = roles
	}
	return nil
}

// limitsChange sets on c the expiry, rate limits and credits of the edit
// form pf that changed, recording each mistake on f.
func limitsChange(c *pihu.KeyChange, pf url.Values, changed func(string) bool, f *form) {
	if raw := strings.TrimSpace(pf.Get("expires")); changed("expires") {
		c.Expires.Set, c.Expires.Null = true, raw == ""
		if raw != "" {
			t, err := time.Parse(expiresLayout, raw)
			if err != nil {
				f.Errors["expires"] = "Give a date such as 2027-03-01, or leave it empty for a key that never expires."
			}
			c.Expires.Value = t
		}
	}
	if raw := strings.TrimSpace(pf.Get("rate_limit")); changed("rate_limit") {
		c.RateLimit.Set, c.RateLimit.Null = true, raw == ""
		if raw != "" {
			l, err := pihu.ParseRateLimit(raw, "rate_limit")
			f.Fail(err, keyEditFields...)
			c.RateLimit.Value = l
		}
	}
	if raw := strings.TrimSpace(pf.Get("ratelimits")); changed("ratelimits") {
		l, err := pihu.ParseNamedLimitsText(raw, "ratelimits")
		f.Fail(err, keyEditFields...)
		c.RateLimits.Set, c.RateLimits.Null, c.RateLimits.Value = true, l == nil, l
	}
	if raw := strings.TrimSpace(pf.Get("remaining")); changed("remaining") {
		c.Remaining.Set, c.Remaining.Null = true, raw == ""
		if raw != "" {
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				f.Errors["remaining"] = "Give a whole number of credits, or leave it empty for a key whose use is not counted."
			}
			c.Remaining.Value = n
		}
	}
}
