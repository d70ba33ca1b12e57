package http

import (
	"net/http"

	"github.com/pihu-ai/pihu"
)

// Candidate is a candidate as the API shows it.
type Candidate struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Email       string `json:"email"`
	Environment string `json:"environment"`
	Created     string `json:"created"`
}

// CandidateList is a page of candidates.
type CandidateList = List[Candidate]

// Deleted is the response to a DELETE of a resource.
type Deleted struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

// NewCandidate is c as the API shows it.
func NewCandidate(c *pihu.Candidate) Candidate {
	return Candidate{ID: c.ID, Name: c.Name, Email: c.Email, Environment: string(c.Environment), Created: timestamp(c.Created)}
}

type createCandidateRequest struct {
	Name  *string `json:"name"`
	Email *string `json:"email"`
}

func (s *Server) createCandidate(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	var body createCandidateRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := explicitEmpty(body.Name, "name", "\"name\" is empty; give the candidate's name, 1 to 200 characters."); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := explicitEmpty(body.Email, "email", "\"email\" is empty; give the candidate's email address, such as \"ada@example.com\"."); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := pihu.NewCandidate(caller, deref(body.Name), deref(body.Email), s.now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.CreateCandidate(r.Context(), c); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewCandidate(c))
}

func (s *Server) listCandidates(w http.ResponseWriter, r *http.Request) {
	listScoped(s, w, r, s.store.ListCandidates, NewCandidate)
}

func (s *Server) getCandidate(w http.ResponseWriter, r *http.Request) {
	getScoped(s, w, r, "candidate", s.store.Candidate, NewCandidate)
}

func (s *Server) deleteCandidate(w http.ResponseWriter, r *http.Request) {
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
	if err := s.store.DeleteCandidate(r.Context(), pihu.ScopeOf(caller), id); err != nil {
		s.writeError(w, r, notFound(err, "candidate", id))
		return
	}
	writeJSON(w, http.StatusOK, Deleted{ID: id, Deleted: true})
}

// notFound rewords a store's ENotFound for the caller: the same sentence
// whether the id never existed, was deleted, or is another account's or
// environment's, with anything key-shaped in the id masked. Other errors
// pass through.
func notFound(err error, noun, id string) error {
	if pihu.ErrorCode(err) != pihu.ENotFound {
		return err
	}
	return pihu.Errorf(pihu.ENotFound, "There is no %s %q for this API key: check the id, and that the key is of the account and environment (live or test) the %s was created with.",
		noun, pihu.MaskSecrets(id), noun)
}

// explicitEmpty returns EParameterInvalid on param if the body gave it as
// "", so that an empty string is told apart from a missing field.
func explicitEmpty(v *string, param, message string) error {
	if v != nil && *v == "" {
		return pihu.ParamErrorf(pihu.EParameterInvalid, param, "%s", message)
	}
	return nil
}
