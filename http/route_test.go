package http

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu/auth"
)

// TestExactRoute: the exact index answers the plain path of each of its
// routes, and for every request it answers it chooses the pattern the mux
// would: never for a path the mux would clean, redirect, or split
// differently (an escaped "/"), nor for another method.
func TestExactRoute(t *testing.T) {
	db, _, _ := benchStore(t)
	s := New(Options{Store: db, Auth: auth.New(db, auth.Options{}), MetricsHandler: http.NotFoundHandler(), Dashboard: http.NotFoundHandler()})
	if len(s.exact) < 20 {
		t.Fatalf("%d exact routes, want every route without a wildcard", len(s.exact))
	}
	if _, ok := s.exact[exactKey{"GET", "/v1/auth/whoami"}]; !ok {
		t.Fatal("GET /v1/auth/whoami is not in the exact index")
	}
	for key := range s.exact {
		dir, base := path.Split(key.path)
		last := key.path[len(key.path)-1]
		variants := []struct{ method, target string }{
			{key.method, key.path},
			{key.method, key.path + "?limit=1"},
			{key.method, key.path + "/"},
			{key.method, "/" + key.path},
			{key.method, dir + "./" + base},
			{key.method, dir + "x/../" + base},
			{key.method, key.path[:len(key.path)-1] + fmt.Sprintf("%%%02X", last)},
			{key.method, strings.ToUpper(key.path)},
			{http.MethodHead, key.path},
			{strings.ToLower(key.method), key.path},
			{http.MethodPut, key.path},
		}
		if dir != "/" {
			variants = append(variants, struct{ method, target string }{key.method, strings.TrimSuffix(dir, "/") + "%2F" + base})
		}
		for _, v := range variants {
			r := httptest.NewRequest(v.method, v.target, nil)
			got, ok := s.exactRoute(r)
			if v.method == key.method && v.target == key.path && !ok {
				t.Errorf("%s %s: not in the exact index", v.method, v.target)
			}
			if _, want := s.mux.Handler(r); ok && got.pattern != want {
				t.Errorf("%s %s: exact index chose %q, the mux %q", v.method, v.target, got.pattern, want)
			}
		}
	}
}
