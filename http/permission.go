package http

import (
	"context"
	"net/http"

	"github.com/pihu-ai/pihu"
)

// PermissionItem is a permission as GET /v1/permissions shows it: built
// in, server-wide (the operator's) or the account's own.
type PermissionItem struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Source is "built_in", "server" or "account".
	Source string `json:"source"`
	// Created is null for a built-in permission.
	Created *string `json:"created"`
}

// PermissionList is every permission an account's keys may hold.
type PermissionList = List[PermissionItem]

// PermissionDeleted is the answer to deleting a permission: the
// permission, and how many keys still hold it (only a forced deletion
// leaves any).
type PermissionDeleted struct {
	PermissionItem
	Deleted  bool `json:"deleted"`
	KeyCount int  `json:"key_count"`
}

// NewPermissionItem is p as the API shows it.
func NewPermissionItem(p *pihu.DefinedPermission) PermissionItem {
	created := timestamp(p.Created)
	return PermissionItem{Name: string(p.Name), Description: p.Description, Source: p.Source(), Created: &created}
}

// defined returns the names of the permissions account accountID defines
// and the server-wide ones: what its keys and tokens may be given besides
// the built-in ones. It reads the store: call it only where keys or
// tokens are made or changed, never to check a request.
func (s *Server) defined(ctx context.Context, accountID string) ([]pihu.Permission, error) {
	ps, err := s.store.DefinedPermissions(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return pihu.PermissionNames(ps), nil
}

type createPermissionRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

// liveOnly refuses a test key the changes of the catalogue, which live and
// test keys share (a test key sees nothing of live keys), and an access
// token (pihu.CheckPermissionWriter).
func liveOnly(caller *pihu.Key) error {
	if err := pihu.CheckPermissionWriter(caller); err != nil {
		return err
	}
	if caller.Environment == pihu.Test {
		return &pihu.Error{Code: pihu.EInsufficientPermissions, Required: string(pihu.PermissionWrite),
			Message: "Live and test keys share the account's permissions: define or delete them with a live key."}
	}
	return nil
}

func (s *Server) createPermission(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	if err := liveOnly(caller); err != nil {
		s.writeError(w, r, err)
		return
	}
	var body createPermissionRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := pihu.NewDefinedPermission(caller.AccountID, pihu.Permission(deref(body.Name)), deref(body.Description), s.now())
	if err == nil {
		err = s.store.DefinePermission(r.Context(), p,
			pihu.NewPermissionEvent(pihu.ActionPermissionCreated, caller.ID, clientIP(r), caller.AccountID, p.Name, p.Created))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewPermissionItem(p))
}

func (s *Server) listPermissions(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	defined, err := s.store.DefinedPermissions(r.Context(), caller.AccountID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := PermissionList{Data: make([]PermissionItem, 0, len(pihu.Catalogue)+len(defined))}
	for _, p := range pihu.Catalogue {
		out.Data = append(out.Data, PermissionItem{Name: string(p), Description: pihu.BuiltInDescription(p), Source: pihu.PermissionSourceBuiltIn})
	}
	for _, p := range defined {
		out.Data = append(out.Data, NewPermissionItem(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deletePermission(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	force, err := parseForce(r)
	if err == nil {
		err = liveOnly(caller)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := deleteBody(w, r, &struct{}{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	name := pihu.Permission(r.PathValue("name"))
	p, n, err := s.store.DeletePermission(r.Context(), caller.AccountID, name, force,
		pihu.NewPermissionEvent(pihu.ActionPermissionDeleted, caller.ID, clientIP(r), caller.AccountID, name, s.now()))
	if err != nil {
		s.writeError(w, r, s.permissionNotDeleted(r.Context(), caller.AccountID, name, err))
		return
	}
	writeJSON(w, http.StatusOK, PermissionDeleted{PermissionItem: NewPermissionItem(p), Deleted: true, KeyCount: n})
}

// permissionNotDeleted says why the account could not delete name when
// the store found no such permission of its own: a built-in or server-wide
// permission is not the account's to delete.
func (s *Server) permissionNotDeleted(ctx context.Context, accountID string, name pihu.Permission, err error) error {
	if pihu.ErrorCode(err) != pihu.ENotFound {
		return err
	}
	if name.BuiltIn() {
		return pihu.ParamErrorf(pihu.EParameterInvalid, "name", "%q is a built-in permission: built-in permissions cannot be deleted.", string(name))
	}
	if server, rerr := s.store.DefinedPermissions(ctx, ""); rerr == nil {
		for _, p := range server {
			if p.Name == name {
				return pihu.ParamErrorf(pihu.EParameterInvalid, "name",
					"%q is a server-wide permission, offered to every account by the operator of this server: only the operator deletes it (pihu permissions delete --server).", string(name))
			}
		}
	}
	return pihu.Errorf(pihu.ENotFound, "This account defines no permission %q: GET /v1/permissions lists those it defines.", pihu.MaskSecrets(string(name)))
}
