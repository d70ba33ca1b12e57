package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pihu-ai/pihu"
)

// MaxBodyBytes caps every request body.
const MaxBodyBytes = 64 << 10

// decode reads the request body as exactly one JSON object into dst,
// rejecting anything SPEC §5 calls bad input: a body over MaxBodyBytes
// (EBodyTooLarge), a type other than application/json
// (EUnsupportedMediaType), invalid UTF-8, broken or trailing JSON, duplicate
// names (EInvalidJSON), control characters in strings (EParameterInvalid),
// unknown fields (EParameterUnknown) and fields of the wrong type
// (EParameterInvalid). An empty body is EInvalidJSON unless optional, when
// dst is left as it is.
func decode(w http.ResponseWriter, r *http.Request, dst any, optional bool) error {
	if r.ContentLength > MaxBodyBytes {
		return errTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errTooLarge
		}
		return pihu.Errorf(pihu.EInvalidJSON, "The request body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return pihu.Errorf(pihu.EInvalidJSON, "The request needs a JSON object as its body.")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return pihu.Errorf(pihu.EUnsupportedMediaType, "Send the body as JSON, with the header Content-Type: application/json.")
	}
	if !utf8.Valid(body) {
		return pihu.Errorf(pihu.EInvalidJSON, "The request body is not valid UTF-8.")
	}
	if err := checkJSON(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	return nil
}

var errTooLarge = pihu.Errorf(pihu.EBodyTooLarge, "The request body is larger than 64 KiB.")

// checkJSON walks body token by token and checks that it is one JSON
// object and nothing after it, with no name twice in an object and no
// control characters in any string.
func checkJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	invalid := func() error {
		return pihu.Errorf(pihu.EInvalidJSON, "The request body is not valid JSON. Send one JSON object, such as {\"name\": \"My API Key\"}.")
	}
	tok, err := dec.Token()
	if err != nil {
		return invalid()
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return pihu.Errorf(pihu.EInvalidJSON, "The request body must be a JSON object, starting with {.")
	}
	// Each open object keeps the names it has seen; top is the current
	// top-level field, named as Param when one of its strings is bad.
	type frame struct {
		object bool
		names  map[string]bool
		expect bool // true when the next token of an object is a name
	}
	stack := []frame{{object: true, names: map[string]bool{}, expect: true}}
	var top string
	for len(stack) > 0 {
		tok, err := dec.Token()
		if err != nil {
			return invalid()
		}
		f := &stack[len(stack)-1]
		if f.object && f.expect {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			name, _ := tok.(string)
			if f.names[name] {
				return pihu.Errorf(pihu.EInvalidJSON, "The field %q appears twice in one object.", name)
			}
			f.names[name] = true
			if hasControl(name) {
				return pihu.Errorf(pihu.EInvalidJSON, "A field name contains a control character.")
			}
			if len(stack) == 1 {
				top = name
			}
			f.expect = false
			continue
		}
		if f.object {
			f.expect = true
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, frame{object: true, names: map[string]bool{}, expect: true})
			case '[':
				stack = append(stack, frame{})
			case ']':
				stack = stack[:len(stack)-1]
			}
		case string:
			if hasControl(v) {
				return pihu.ParamErrorf(pihu.EParameterInvalid, top, "%q contains a control character (such as a newline or tab); remove it.", top)
			}
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return pihu.Errorf(pihu.EInvalidJSON, "The request body has data after its JSON object; send exactly one object.")
	}
	return nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// decodeError turns an encoding/json error from a body that checkJSON
// accepted into a parameter error.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		param := typeErr.Field
		return pihu.ParamErrorf(pihu.EParameterInvalid, param, "%q must be %s.", param, jsonKind(typeErr.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return pihu.ParamErrorf(pihu.EParameterUnknown, name, "%q is not a field of this request; remove it.", name)
	}
	var e *pihu.Error
	if errors.As(err, &e) {
		return e
	}
	return pihu.Errorf(pihu.EInvalidJSON, "The request body is not valid JSON for this request.")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "bool":
		return "true or false"
	case "struct", "map":
		return "an object"
	default:
		return "a number"
	}
}
