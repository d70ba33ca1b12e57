package client

import (
	"context"
	"net/http"
	"time"
)

// Interview is an interview of a candidate for a position.
type Interview struct {
	ID          string     `json:"id"`
	CandidateID string     `json:"candidate_id"`
	Position    string     `json:"position"`
	ScheduledAt *time.Time `json:"scheduled_at"` // nil: no time set
	// Status is "scheduled".
	Status      string    `json:"status"`
	Environment string    `json:"environment"`
	Created     time.Time `json:"created"`
	Response
}

// InterviewList is a page of interviews, newest first.
type InterviewList struct {
	Data    []Interview `json:"data"`
	HasMore bool        `json:"has_more"`
	Response
}

// InterviewParams describe an interview to create.
type InterviewParams struct {
	// CandidateID is required: a candidate of the calling key's account
	// and environment.
	CandidateID string
	// Position is required: 1 to 200 characters.
	Position string
	// ScheduledAt is when it takes place, if known. The API keeps times
	// to the second: a fraction is dropped.
	ScheduledAt *time.Time
}

type interviewBody struct {
	CandidateID string  `json:"candidate_id"`
	Position    string  `json:"position"`
	ScheduledAt *string `json:"scheduled_at,omitempty"`
}

// CreateInterview creates an interview (permission interview:write). A
// candidate that is not the calling key's is an *Error with Code
// "parameter_invalid" and Param "candidate_id".
func (c *Client) CreateInterview(ctx context.Context, p InterviewParams) (*Interview, error) {
	body := interviewBody{CandidateID: p.CandidateID, Position: p.Position}
	if p.ScheduledAt != nil {
		s := p.ScheduledAt.UTC().Format(time.RFC3339)
		body.ScheduledAt = &s
	}
	var out Interview
	if err := c.do(ctx, http.MethodPost, "/v1/interviews", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListInterviews returns a page of interviews (permission interview:read).
func (c *Client) ListInterviews(ctx context.Context, p ListParams) (*InterviewList, error) {
	var out InterviewList
	if err := c.do(ctx, http.MethodGet, "/v1/interviews", p.query(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetInterview returns the interview id (permission interview:read).
func (c *Client) GetInterview(ctx context.Context, id string) (*Interview, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var out Interview
	if err := c.do(ctx, http.MethodGet, "/v1/interviews/"+seg, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteInterview deletes the interview id (permission interview:write).
func (c *Client) DeleteInterview(ctx context.Context, id string) (*Deleted, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var out Deleted
	if err := c.do(ctx, http.MethodDelete, "/v1/interviews/"+seg, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
