package http

import (
	"net/http"
	"time"

	"github.com/pihu-ai/pihu"
)

// Interview is an interview as the API shows it.
type Interview struct {
	ID          string  `json:"id"`
	CandidateID string  `json:"candidate_id"`
	Position    string  `json:"position"`
	ScheduledAt *string `json:"scheduled_at"`
	Status      string  `json:"status"`
	Environment string  `json:"environment"`
	Created     string  `json:"created"`
}

// InterviewList is a page of interviews.
type InterviewList = List[Interview]

// NewInterview is iv as the API shows it.
func NewInterview(iv *pihu.Interview) Interview {
	return Interview{
		ID: iv.ID, CandidateID: iv.CandidateID, Position: iv.Position, ScheduledAt: timestampPtr(iv.ScheduledAt),
		Status: string(iv.Status), Environment: string(iv.Environment), Created: timestamp(iv.Created),
	}
}

type createInterviewRequest struct {
	CandidateID *string `json:"candidate_id"`
	Position    *string `json:"position"`
	ScheduledAt *string `json:"scheduled_at"`
}

func (s *Server) createInterview(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	var body createInterviewRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := explicitEmpty(body.CandidateID, "candidate_id", "\"candidate_id\" is empty; give the id of a candidate (cand_…)."); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := explicitEmpty(body.Position, "position", "\"position\" is empty; give the title of the position, 1 to 200 characters."); err != nil {
		s.writeError(w, r, err)
		return
	}
	var at *time.Time
	if body.ScheduledAt != nil {
		t, err := pihu.ParseScheduledAt(*body.ScheduledAt)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		at = &t
	}
	iv, err := pihu.NewInterview(caller, deref(body.CandidateID), deref(body.Position), at, s.now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.CreateInterview(r.Context(), iv); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewInterview(iv))
}

func (s *Server) listInterviews(w http.ResponseWriter, r *http.Request) {
	listScoped(s, w, r, s.store.ListInterviews, NewInterview)
}

func (s *Server) getInterview(w http.ResponseWriter, r *http.Request) {
	getScoped(s, w, r, "interview", s.store.Interview, NewInterview)
}

func (s *Server) deleteInterview(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := deleteBody(w, r, &struct{}{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	if err := s.store.DeleteInterview(r.Context(), pihu.ScopeOf(caller), id); err != nil {
		s.writeError(w, r, notFound(err, "interview", id))
		return
	}
	writeJSON(w, http.StatusOK, Deleted{ID: id, Deleted: true})
}
