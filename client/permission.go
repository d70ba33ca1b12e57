package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Permission is one entry of the catalogue of permissions keys may hold:
// built in, server-wide (the operator's) or the account's own.
type Permission struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Source is "built_in", "server" or "account".
	Source string `json:"source"`
	// Created is nil for a built-in permission.
	Created *time.Time `json:"created"`
	Response
}

// PermissionList is every permission the account's keys may be given.
type PermissionList struct {
	Data    []Permission `json:"data"`
	HasMore bool         `json:"has_more"`
	Response
}

// PermissionParams describe a permission to define.
type PermissionParams struct {
	// Name is "resource:action", such as "billing:read"; required.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// PermissionDeleted is the answer to DeletePermission: the permission, and
// how many keys still hold it (0 unless forced).
type PermissionDeleted struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Source      string    `json:"source"`
	Created     time.Time `json:"created"`
	Deleted     bool      `json:"deleted"`
	KeyCount    int       `json:"key_count"`
	Response
}

// CreatePermission defines a permission of the account's own (permission
// permission:write, with a live key). A name defined already is an *Error
// with Code "permission_exists".
func (c *Client) CreatePermission(ctx context.Context, p PermissionParams) (*Permission, error) {
	var out Permission
	if err := c.do(ctx, http.MethodPost, "/v1/permissions", nil, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPermissions returns the built-in permissions, the server-wide ones
// and the account's own (permission permission:read).
func (c *Client) ListPermissions(ctx context.Context) (*PermissionList, error) {
	var out PermissionList
	if err := c.do(ctx, http.MethodGet, "/v1/permissions", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeletePermission deletes the account's permission name (permission
// permission:write, with a live key). If keys hold it, it is an *Error
// with Code "permission_in_use" and KeyCount set, unless force: the keys
// then keep it until changed.
func (c *Client) DeletePermission(ctx context.Context, name string, force bool) (*PermissionDeleted, error) {
	seg, err := escapeID(name)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	var out PermissionDeleted
	if err := c.do(ctx, http.MethodDelete, "/v1/permissions/"+seg, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
