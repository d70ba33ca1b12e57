package web

import (
	"net/http"
	"strings"

	"github.com/pihu-ai/pihu"
)

// The roles page lists the account's roles and, for those who manage
// keys, creates, changes and deletes them, with the rules of /v1/roles:
// pihu.NewKeyRole and pihu.RoleChange check them, with the account's own
// authority (ownerCreator), and a deletion that keys hold is refused with
// their count unless forced. A change of a role's permissions, or its
// deletion, reaches every key holding it at once (Authenticator.
// InvalidateRoles), as through the API.

// roleFields are the role forms' fields, by the API's names.
var roleFields = []string{"name", "description", "permissions"}

type rolesData struct {
	Roles       []*pihu.KeyRole
	CanManage   bool
	Form        *form
	Permissions []permissionChoice
	// Deleted says what the last deletion did, on the page it redirects
	// to.
	Deleted string
}

func (h *Handler) rolesPage(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderRoles(w, r, s, http.StatusOK, newForm(nil), r.URL.Query().Get("deleted"))
}

func (h *Handler) renderRoles(w http.ResponseWriter, r *http.Request, s *session, status int, f *form, deleted string) {
	roles, err := h.store.Roles(r.Context(), s.account.ID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	choices, err := h.permissionChoices(r, s)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.render(w, r, status, "roles", view{Title: "Roles", Me: s.user, Account: s.account, Nav: "roles",
		Data: rolesData{Roles: roles, CanManage: s.user.Role.CanManageKeys(), Form: f, Permissions: choices, Deleted: deleted}})
}

// permissionChoices are the boxes of a form that gives permissions: the
// built-in ones, the server-wide ones and the account's own.
func (h *Handler) permissionChoices(r *http.Request, s *session) ([]permissionChoice, error) {
	defined, err := h.store.DefinedPermissions(r.Context(), s.account.ID)
	if err != nil {
		return nil, err
	}
	return permissionChoices(defined), nil
}

// formPermissions are the permissions ticked on a form; nil if none.
func formPermissions(r *http.Request) pihu.Permissions {
	var out pihu.Permissions
	for _, p := range r.PostForm["permissions"] {
		out = append(out, pihu.Permission(p))
	}
	return out
}

// defined returns the names of the permissions the account and the
// server define, which roles may hold besides the built-in ones.
func (h *Handler) defined(r *http.Request, s *session) ([]pihu.Permission, error) {
	ps, err := h.store.DefinedPermissions(r.Context(), s.account.ID)
	if err != nil {
		return nil, err
	}
	return pihu.PermissionNames(ps), nil
}

// createRole creates a role, as POST /v1/roles does.
func (h *Handler) createRole(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(r)
	req := pihu.RoleRequest{
		Name: strings.TrimSpace(r.PostForm.Get("name")), Description: strings.TrimSpace(r.PostForm.Get("description")),
		Permissions: formPermissions(r),
	}
	defined, err := h.defined(r, s)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	req.Defined = defined
	role, err := pihu.NewKeyRole(s.account.ID, req, ownerCreator(s.account.ID), h.now())
	if err == nil {
		err = h.store.CreateRole(r.Context(), role,
			pihu.NewRoleEvent(pihu.ActionRoleCreated, s.user.ID, h.clientIP(r), role, role.Created))
	}
	if err != nil {
		if !f.Fail(err, roleFields...) {
			h.internalError(w, r, err)
			return
		}
		h.renderRoles(w, r, s, statusOf(err), f, "")
		return
	}
	http.Redirect(w, r, "/roles/"+role.ID, http.StatusSeeOther)
}

// statusOf is the status of a form refused for err: its code's.
func statusOf(err error) int {
	status, _ := pihu.ErrorStatus(pihu.ErrorCode(err))
	return status
}

type roleData struct {
	Role        *pihu.KeyRole
	CanManage   bool
	Form        *form
	Permissions []permissionChoice
	Saved       bool
}

// rolePage shows a role, with a form to change it and one to delete it.
// Another account's role, a deleted one or an unknown id is a 404.
func (h *Handler) rolePage(w http.ResponseWriter, r *http.Request, s *session) {
	role, ok := h.findRole(w, r, s)
	if !ok {
		return
	}
	f := newForm(nil)
	f.Values.Set("name", role.Name)
	f.Values.Set("description", role.Description)
	f.Values["permissions"] = role.Permissions.Strings()
	h.renderRole(w, r, s, http.StatusOK, role, f, r.URL.Query().Get("saved") == "1")
}

func (h *Handler) renderRole(w http.ResponseWriter, r *http.Request, s *session, status int, role *pihu.KeyRole, f *form, saved bool) {
	choices, err := h.permissionChoices(r, s)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.render(w, r, status, "role", view{Title: role.Name, Me: s.user, Account: s.account, Nav: "roles",
		Data: roleData{Role: role, CanManage: s.user.Role.CanManageKeys(), Form: f, Permissions: choices, Saved: saved}})
}

// findRole returns the role of the path's {id} in the visitor's account,
// or answers 404 and returns false.
func (h *Handler) findRole(w http.ResponseWriter, r *http.Request, s *session) (*pihu.KeyRole, bool) {
	role, err := h.store.Role(r.Context(), s.account.ID, r.PathValue("id"))
	if pihu.ErrorCode(err) == pihu.ENotFound {
		h.errorPage(w, r, s, http.StatusNotFound, "Role not found", "This account has no role with this id, or it has been deleted.")
		return nil, false
	}
	if err != nil {
		h.internalError(w, r, err)
		return nil, false
	}
	return role, true
}

// updateRole changes a role's name, description and permissions, as
// PATCH /v1/roles/{id} does: every key holding it may then do what its
// new permissions allow, at once.
func (h *Handler) updateRole(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	role, ok := h.findRole(w, r, s)
	if !ok {
		return
	}
	f := newForm(r)
	name, description := strings.TrimSpace(r.PostForm.Get("name")), strings.TrimSpace(r.PostForm.Get("description"))
	change := &pihu.RoleChange{Name: &name, Description: &description, Permissions: formPermissions(r)}
	if change.Permissions == nil {
		change.Permissions = pihu.Permissions{} // none ticked: refused as empty
	}
	defined, err := h.defined(r, s)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	change.Defined = defined
	err = change.Validate()
	if err == nil {
		now := h.now()
		_, err = h.store.UpdateRole(r.Context(), pihu.RoleUpdate{
			AccountID: s.account.ID, ID: role.ID,
			Apply: func(role *pihu.KeyRole) error { return change.Apply(ownerCreator(s.account.ID), role, now) },
			Event: func(role *pihu.KeyRole) *pihu.AuditEvent {
				ev := pihu.NewRoleEvent(pihu.ActionRoleUpdated, s.user.ID, h.clientIP(r), role, now)
				ev.Changes = change.Fields()
				return ev
			},
		})
	}
	switch {
	case err == nil:
	case pihu.ErrorCode(err) == pihu.ENotFound:
		h.errorPage(w, r, s, http.StatusNotFound, "Role not found", "This account has no role with this id, or it has been deleted.")
		return
	case f.Fail(err, roleFields...):
		h.renderRole(w, r, s, statusOf(err), role, f, false)
		return
	default:
		h.internalError(w, r, err)
		return
	}
	h.auth.InvalidateRoles(s.account.ID)
	http.Redirect(w, r, "/roles/"+role.ID+"?saved=1", http.StatusSeeOther)
}

// deleteRole deletes a role, as DELETE /v1/roles/{id} does: refused, with
// the count, while keys hold it, unless the form says force; the keys then
// lose it at once.
func (h *Handler) deleteRole(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	now := h.now()
	role, _, err := h.store.DeleteRole(r.Context(), pihu.RoleDeletion{
		AccountID: s.account.ID, ID: r.PathValue("id"), At: now, Force: r.PostForm.Get("force") == "true",
		Check: func(role *pihu.KeyRole) error { return pihu.CheckRoleOwner(ownerCreator(s.account.ID), role, "delete") },
		Event: func(role *pihu.KeyRole) *pihu.AuditEvent {
			return pihu.NewRoleEvent(pihu.ActionRoleDeleted, s.user.ID, h.clientIP(r), role, now)
		},
	})
	switch pihu.ErrorCode(err) {
	case "":
		h.auth.InvalidateRoles(s.account.ID)
		http.Redirect(w, r, "/roles?deleted="+role.Name, http.StatusSeeOther)
	case pihu.ENotFound:
		h.errorPage(w, r, s, http.StatusNotFound, "Role not found", "This account has no role with this id, or it has been deleted.")
	case pihu.ERoleInUse:
		f := newForm(nil)
		f.Message = pihu.ErrorMessage(err)
		h.renderRoles(w, r, s, http.StatusConflict, f, "")
	default:
		h.internalError(w, r, err)
	}
}
