package web

import (
	"net/http"
	"strings"

	"github.com/pihu-ai/pihu"
)

// The permissions page lists what the account's keys may be given (the
// built-in permissions, the server-wide ones and the account's own) and,
// for those who manage keys, defines and deletes the account's own, with
// the rules of /v1/permissions: pihu.NewDefinedPermission checks a name,
// and a deletion that keys hold is refused with their count unless
// forced.

type permissionsData struct {
	Permissions []permissionChoice
	CanManage   bool
	Form        *form
	// Deleted says what the last deletion did, on the page it redirects
	// to.
	Deleted string
}

func (h *Handler) permissionsPage(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderPermissions(w, r, s, http.StatusOK, newForm(nil), r.URL.Query().Get("deleted"))
}

func (h *Handler) renderPermissions(w http.ResponseWriter, r *http.Request, s *session, status int, f *form, deleted string) {
	defined, err := h.store.DefinedPermissions(r.Context(), s.account.ID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.render(w, r, status, "permissions", view{Title: "Permissions", Me: s.user, Account: s.account, Nav: "permissions",
		Data: permissionsData{Permissions: permissionChoices(defined), CanManage: s.user.Role.CanManageKeys(), Form: f, Deleted: deleted}})
}

// definePermission defines a permission of the account's own, as POST
// /v1/permissions does.
func (h *Handler) definePermission(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(r)
	p, err := pihu.NewDefinedPermission(s.account.ID, pihu.Permission(strings.TrimSpace(r.PostForm.Get("name"))),
		strings.TrimSpace(r.PostForm.Get("description")), h.now())
	if err == nil {
		err = h.store.DefinePermission(r.Context(), p,
			pihu.NewPermissionEvent(pihu.ActionPermissionCreated, s.user.ID, h.clientIP(r), s.account.ID, p.Name, p.Created))
	}
	if err != nil {
		if !f.Fail(err, "name", "description") {
			h.internalError(w, r, err)
			return
		}
		h.renderPermissions(w, r, s, http.StatusBadRequest, f, "")
		return
	}
	http.Redirect(w, r, "/permissions", http.StatusSeeOther)
}

// deletePermission deletes a permission of the account's own, as DELETE
// /v1/permissions/{name} does: refused, with the count, while keys hold
// it, unless the form says force.
func (h *Handler) deletePermission(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	name := pihu.Permission(r.PathValue("name"))
	_, _, err := h.store.DeletePermission(r.Context(), s.account.ID, name, r.PostForm.Get("force") == "true",
		pihu.NewPermissionEvent(pihu.ActionPermissionDeleted, s.user.ID, h.clientIP(r), s.account.ID, name, h.now()))
	switch pihu.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/permissions?deleted="+string(name), http.StatusSeeOther)
	case pihu.ENotFound:
		h.errorPage(w, r, s, http.StatusNotFound, "Permission not found", "This account defines no such permission.")
	case pihu.EPermissionInUse:
		f := newForm(nil)
		f.Message = pihu.ErrorMessage(err)
		h.renderPermissions(w, r, s, http.StatusConflict, f, "")
	default:
		h.internalError(w, r, err)
	}
}
