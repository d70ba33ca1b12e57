package http

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3 document of the whole API, written by
// hand and kept beside the code it describes. The tests send every HTTP
// scenario's request and response through a validator built from it, so
// that the document and the server cannot drift apart.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI 3 document served at
// GET /v1/openapi.json, for tools and tests that want it without a server.
func OpenAPIDocument() []byte {
	return append([]byte(nil), openAPIDocument...)
}

// openAPI serves the document. It needs no key: it describes the API, and
// holds nothing of any account.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	w.Write(openAPIDocument)
}
