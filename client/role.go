package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Role is a named set of permissions of the account. A key given the role
// (KeyParams.Roles, UpdateKeyParams.Roles) holds its permissions besides
// its own, as the role is now.
type Role struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Permissions []string  `json:"permissions"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	Response
}

// RoleList is a page of the account's roles, newest first.
type RoleList struct {
	Data    []Role `json:"data"`
	HasMore bool   `json:"has_more"`
	Response
}

// RoleParams describe a role to create.
type RoleParams struct {
	// Name is required, unique in the account.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Permissions is required: built-in, server-wide or the account's
	// own permissions, or wildcards, all held by the calling key.
	Permissions []string `json:"permissions"`
}

// UpdateRoleParams are the fields of a role to change; those left zero
// stay as they are.
type UpdateRoleParams struct {
	Name        string   `json:"name,omitempty"`
	Description *string  `json:"description,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
}

// RoleDeleted is the answer to DeleteRole: the role, and how many keys
// held it (0 unless forced; they lost it).
type RoleDeleted struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Permissions []string  `json:"permissions"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	Deleted     bool      `json:"deleted"`
	KeyCount    int       `json:"key_count"`
	Response
}

// CreateRole creates a role (permission role:write, with a live API key
// holding every permission of the role). A name the account has already
// is an *Error with Code "role_exists".
func (c *Client) CreateRole(ctx context.Context, p RoleParams) (*Role, error) {
	var out Role
	if err := c.do(ctx, http.MethodPost, "/v1/roles", nil, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListRoles returns a page of the account's roles, newest first
// (permission role:read).
func (c *Client) ListRoles(ctx context.Context, p ListParams) (*RoleList, error) {
	var out RoleList
	if err := c.do(ctx, http.MethodGet, "/v1/roles", p.query(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetRole returns the role id (permission role:read).
func (c *Client) GetRole(ctx context.Context, id string) (*Role, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var out Role
	if err := c.do(ctx, http.MethodGet, "/v1/roles/"+seg, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateRole changes the role id (permission role:write, with a live API
// key holding every permission the role gives now and every one it gives
// it) and returns it as changed. A change of its permissions changes what
// every key holding it may do, on every instance, at once.
func (c *Client) UpdateRole(ctx context.Context, id string, p UpdateRoleParams) (*Role, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var out Role
	if err := c.do(ctx, http.MethodPatch, "/v1/roles/"+seg, nil, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteRole deletes the role id (as UpdateRole). If keys hold it, it is
// an *Error with Code "role_in_use" and KeyCount set, unless force: the
// keys then lose it, and its permissions, at once.
func (c *Client) DeleteRole(ctx context.Context, id string, force bool) (*RoleDeleted, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	var out RoleDeleted
	if err := c.do(ctx, http.MethodDelete, "/v1/roles/"+seg, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
