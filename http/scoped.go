package http

import (
	"context"
	"net/http"

	"github.com/pihu-ai/pihu"
)

// List is a page of a resource as every list answers it.
type List[J any] struct {
	Data    []J  `json:"data"`
	HasMore bool `json:"has_more"`
}

// listScoped answers a list of the resource of the caller's account and
// environment (candidates, interviews, webhook endpoints): the page the
// query asks for, read by list, each item shaped for the answer.
func listScoped[T, J any](s *Server, w http.ResponseWriter, r *http.Request,
	list func(context.Context, pihu.Scope, pihu.Page) ([]T, bool, error), shape func(T) J) {
	p, err := parsePage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	scope := pihu.ScopeOf(pihu.KeyFromContext(r.Context()))
	items, more, err := list(r.Context(), scope, pihu.Page{Limit: p.limit, StartingAfter: p.startingAfter, EndingBefore: p.endingBefore})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := List[J]{Data: make([]J, 0, len(items)), HasMore: more}
	for _, it := range items {
		out.Data = append(out.Data, shape(it))
	}
	writeJSON(w, http.StatusOK, out)
}

// getScoped answers one item, by the id in the path, of the resource of
// the caller's account and environment; noun names the resource in a 404.
func getScoped[T, J any](s *Server, w http.ResponseWriter, r *http.Request, noun string,
	get func(context.Context, pihu.Scope, string) (T, error), shape func(T) J) {
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	scope := pihu.ScopeOf(pihu.KeyFromContext(r.Context()))
	it, err := get(r.Context(), scope, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, notFound(err, noun, r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, shape(it))
}
