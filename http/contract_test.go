package http_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// contract is the OpenAPI document, loaded and validated, with a router
// that finds the operation of a request.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

// loadContract loads the document the server embeds and checks that it is
// a valid OpenAPI 3 document, once for the test binary.
var loadContract = sync.OnceValues(func() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(pihuhttp.OpenAPIDocument())
	if err != nil {
		return nil, fmt.Errorf("loading openapi.json: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI 3 document: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("routing openapi.json: %w", err)
	}
	return &contract{doc: doc, router: router}, nil
})

// checkContract validates one exchange the test harness made against the
// OpenAPI document, failing the test on a mismatch:
//
//   - the response always: its status must be one the operation lists, with
//     the headers the document requires and a body of its schema; a request
//     for no documented path must be a 404 and one with an undocumented
//     method a 405, each with the error body;
//   - the request when the server accepted it (a status below 400): a
//     request the document rejects must not succeed. A request the server
//     refused may break the contract on purpose (bad JSON, unknown fields,
//     a wrong content type), so it is not validated.
//
// Authentication is accepted whatever it is: the scenarios test it
// themselves.
func checkContract(tb testing.TB, req *http.Request, body string, status int, header http.Header, resBody []byte) {
	tb.Helper()
	c, err := loadContract()
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	req = req.Clone(ctx)
	req.Body = io.NopCloser(strings.NewReader(body))
	exchange := req.Method + " " + req.URL.RequestURI()

	route, params, err := c.router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		c.checkUnrouted(tb, exchange, req, "NotFound", http.StatusNotFound, status, header, resBody)
		return
	case errors.Is(err, routers.ErrMethodNotAllowed):
		c.checkUnrouted(tb, exchange, req, "MethodNotAllowed", http.StatusMethodNotAllowed, status, header, resBody)
		return
	case err != nil:
		tb.Fatalf("%s: finding the operation: %v", exchange, err)
	}

	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			MultiError:         true,
		},
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil && status < 400 {
		tb.Errorf("%s: the server answered %d to a request the OpenAPI document rejects: %v", exchange, status, err)
	}
	checkResponse(tb, exchange, in, status, header, resBody)
}

// checkUnrouted checks the answer to a request for which the document has
// no operation: it must be want, shaped as the document's component
// response of that name.
func (c *contract) checkUnrouted(tb testing.TB, exchange string, req *http.Request, component string, want, status int, header http.Header, resBody []byte) {
	tb.Helper()
	if status != want {
		tb.Errorf("%s: the OpenAPI document has no such operation, so the server must answer %d; it answered %d", exchange, want, status)
		return
	}
	resp := c.doc.Components.Responses[component]
	if resp == nil {
		tb.Fatalf("the OpenAPI document has no component response %q", component)
	}
	op := openapi3.NewOperation()
	op.Responses = openapi3.NewResponses(openapi3.WithStatus(want, resp))
	route := &routers.Route{Spec: c.doc, PathItem: &openapi3.PathItem{}, Method: req.Method, Operation: op}
	in := &openapi3filter.RequestValidationInput{Request: req, Route: route}
	checkResponse(tb, exchange, in, status, header, resBody)
}

func checkResponse(tb testing.TB, exchange string, in *openapi3filter.RequestValidationInput, status int, header http.Header, resBody []byte) {
	tb.Helper()
	err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(resBody)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	})
	if err != nil {
		tb.Errorf("%s: the %d response does not match the OpenAPI document: %v\nbody: %s", exchange, status, err, resBody)
	}
}
