package client

import (
	"context"
	"net/http"
	"time"
)

// Candidate is a person the account interviews, in the environment of the
// key that created it.
type Candidate struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Email       string    `json:"email"`
	Environment string    `json:"environment"`
	Created     time.Time `json:"created"`
	Response
}

// CandidateList is a page of candidates, newest first.
type CandidateList struct {
	Data    []Candidate `json:"data"`
	HasMore bool        `json:"has_more"`
	Response
}

// CandidateParams describe a candidate to create.
type CandidateParams struct {
	// Name is required: 1 to 200 characters.
	Name string `json:"name"`
	// Email is required: one bare address, such as "ada@example.com".
	Email string `json:"email"`
}

// CreateCandidate creates a candidate (permission candidate:write).
func (c *Client) CreateCandidate(ctx context.Context, p CandidateParams) (*Candidate, error) {
	var out Candidate
	if err := c.do(ctx, http.MethodPost, "/v1/candidates", nil, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListCandidates returns a page of candidates (permission candidate:read).
func (c *Client) ListCandidates(ctx context.Context, p ListParams) (*CandidateList, error) {
	var out CandidateList
	if err := c.do(ctx, http.MethodGet, "/v1/candidates", p.query(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetCandidate returns the candidate id (permission candidate:read).
func (c *Client) GetCandidate(ctx context.Context, id string) (*Candidate, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var out Candidate
	if err := c.do(ctx, http.MethodGet, "/v1/candidates/"+seg, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteCandidate deletes the candidate id and all their interviews
// (permission candidate:write).
func (c *Client) DeleteCandidate(ctx context.Context, id string) (*Deleted, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var out Deleted
	if err := c.do(ctx, http.MethodDelete, "/v1/candidates/"+seg, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
