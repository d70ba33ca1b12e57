package http

import (
	"context"
	"net/http"

	"github.com/pihu-ai/pihu"
)

// Role is a role as the API shows it.
type Role struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
	Created     string   `json:"created"`
	Updated     string   `json:"updated"`
}

// RoleList is a page of roles.
type RoleList = List[Role]

// RoleDeleted is the answer to deleting a role: the role, and how many
// keys held it (only a forced deletion leaves any, which lost it).
type RoleDeleted struct {
	Role
	Deleted  bool `json:"deleted"`
	KeyCount int  `json:"key_count"`
}

// NewRole is r as the API shows it.
func NewRole(r *pihu.KeyRole) Role {
	return Role{
		ID: r.ID, Name: r.Name, Description: r.Description, Permissions: r.Permissions.Strings(),
		Created: timestamp(r.Created), Updated: timestamp(r.Updated),
	}
}

// accountRoles returns the roles of account accountID when a request
// gives a key roles (ids not nil), for pihu.FindRoles; nil otherwise. It
// reads the store: call it only where keys are made or changed.
func (s *Server) accountRoles(ctx context.Context, accountID string, ids []string) ([]*pihu.KeyRole, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return s.store.Roles(ctx, accountID)
}

type roleRequest struct {
	Name        *string            `json:"name"`
	Description *string            `json:"description"`
	Permissions *[]pihu.Permission `json:"permissions"`
}

// permissions is the body's permissions: nil if left out, [] if null or
// empty (refused as empty).
func (b *roleRequest) permissions() pihu.Permissions {
	if b.Permissions == nil {
		return nil
	}
	if *b.Permissions == nil {
		return pihu.Permissions{}
	}
	return pihu.Permissions(*b.Permissions)
}

func (s *Server) createRole(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	var body roleRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if b := body.Name; b != nil && *b == "" {
		s.writeError(w, r, pihu.ParamErrorf(pihu.EParameterInvalid, "name", "\"name\" is empty; give the role a name of 1 to 100 characters."))
		return
	}
	req := pihu.RoleRequest{Name: deref(body.Name), Description: deref(body.Description), Permissions: body.permissions()}
	var err error
	if req.Permissions != nil {
		req.Defined, err = s.defined(r.Context(), caller.AccountID)
	}
	var role *pihu.KeyRole
	if err == nil {
		role, err = pihu.NewKeyRole(caller.AccountID, req, caller, s.now())
	}
	if err == nil {
		err = s.store.CreateRole(r.Context(), role,
			pihu.NewRoleEvent(pihu.ActionRoleCreated, caller.ID, clientIP(r), role, role.Created))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewRole(role))
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	page, err := parsePage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	roles, more, err := s.store.ListRoles(r.Context(), pihu.RoleFilter{AccountID: caller.AccountID,
		Page: pihu.Page{Limit: page.limit, StartingAfter: page.startingAfter, EndingBefore: page.endingBefore}})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := RoleList{Data: make([]Role, 0, len(roles)), HasMore: more}
	for _, role := range roles {
		out.Data = append(out.Data, NewRole(role))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getRole(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	role, err := s.store.Role(r.Context(), caller.AccountID, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewRole(role))
}

// updateRole changes a role: PATCH /v1/roles/{id}. The caller must hold
// every permission of the role and every one it gives it (see
// pihu.RoleChange.Apply), checked against the role as stored in the
// transaction that changes it; a change of its permissions reaches every
// key holding it, on every instance, as a revocation does.
func (s *Server) updateRole(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	var body roleRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	change := &pihu.RoleChange{Name: body.Name, Description: body.Description, Permissions: body.permissions()}
	var err error
	if change.Permissions != nil {
		change.Defined, err = s.defined(r.Context(), caller.AccountID)
	}
	if err == nil {
		err = change.Validate()
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	role, err := s.store.UpdateRole(r.Context(), pihu.RoleUpdate{
		AccountID: caller.AccountID, ID: r.PathValue("id"),
		Apply: func(role *pihu.KeyRole) error { return change.Apply(caller, role, now) },
		Event: func(role *pihu.KeyRole) *pihu.AuditEvent {
			ev := pihu.NewRoleEvent(pihu.ActionRoleUpdated, caller.ID, clientIP(r), role, now)
			ev.Changes = change.Fields()
			return ev
		},
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if change.Permissions != nil {
		s.auth.InvalidateRoles(caller.AccountID)
	}
	writeJSON(w, http.StatusOK, NewRole(role))
}

// deleteRole deletes a role: DELETE /v1/roles/{id}, refused with 409
// role_in_use while keys hold it unless ?force=true, when they lose it
// at once on every instance.
func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	force, err := parseForce(r)
	if err == nil {
		err = deleteBody(w, r, &struct{}{})
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	role, n, err := s.store.DeleteRole(r.Context(), pihu.RoleDeletion{
		AccountID: caller.AccountID, ID: r.PathValue("id"), At: now, Force: force,
		Check: func(role *pihu.KeyRole) error { return pihu.CheckRoleOwner(caller, role, "delete") },
		Event: func(role *pihu.KeyRole) *pihu.AuditEvent {
			return pihu.NewRoleEvent(pihu.ActionRoleDeleted, caller.ID, clientIP(r), role, now)
		},
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.auth.InvalidateRoles(caller.AccountID)
	writeJSON(w, http.StatusOK, RoleDeleted{Role: NewRole(role), Deleted: true, KeyCount: n})
}

// parseForce reads the one query parameter of a deletion that keys may
// depend on: force, "true" or "false" (the default).
func parseForce(r *http.Request) (bool, error) {
	q, err := query(r, "force")
	if err != nil {
		return false, err
	}
	vs, ok := q["force"]
	if !ok {
		return false, nil
	}
	switch vs[0] {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, pihu.ParamErrorf(pihu.EParameterInvalid, "force", "\"force\" must be \"true\" or \"false\".")
}
