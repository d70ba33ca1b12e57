package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"
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
// (EParameterInvalid). Field names match dst's json tags exactly:
// "Expiration" or "permiſſions" is an unknown field, never folded onto
// "expiration" or "permissions" as encoding/json would. An empty body is
// EInvalidJSON unless optional, when dst is left as it is. The request
// must have no query parameters, as no route with a body takes any (see
// noParameters); that is checked first.
func decode(w http.ResponseWriter, r *http.Request, dst any, optional bool) error {
	if err := noParameters(r); err != nil {
		return err
	}
	return decodeBody(w, r, dst, optional, MaxBodyBytes)
}

// decodeLimit is decode of a body that must be there, for the one route
// whose bodies may be larger than MaxBodyBytes (an import of keys), up to
// limit bytes.
func decodeLimit(w http.ResponseWriter, r *http.Request, dst any, limit int64) error {
	if err := noParameters(r); err != nil {
		return err
	}
	return decodeBody(w, r, dst, false, limit)
}

func decodeBody(w http.ResponseWriter, r *http.Request, dst any, optional bool, limit int64) error {
	tooLarge := errTooLarge
	if limit != MaxBodyBytes {
		tooLarge = pihu.Errorf(pihu.EBodyTooLarge, "The request body is larger than %d MiB; send fewer keys at once.", limit>>20)
	}
	if r.ContentLength > limit {
		return tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return tooLarge
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
		return pihu.Errorf(pihu.EUnsupportedMediaType, "This endpoint accepts only application/json: send the body as JSON, with the header Content-Type: application/json.")
	}
	if !utf8.Valid(body) {
		return pihu.Errorf(pihu.EInvalidJSON, "The request body is not valid UTF-8.")
	}
	if err := checkJSON(body, reflect.TypeOf(dst)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	return nil
}

// deleteBody reads the body of a DELETE, the same way on every resource: a
// DELETE needs none, and a body it has is read as decode reads any body
// (application/json, one object) into dst, the parameters the DELETE
// takes; for a resource whose DELETE takes none, dst is an empty struct,
// so that only {} is accepted.
func deleteBody(w http.ResponseWriter, r *http.Request, dst any) error {
	return decodeBody(w, r, dst, true, MaxBodyBytes)
}

var errTooLarge = pihu.Errorf(pihu.EBodyTooLarge, "The request body is larger than 64 KiB.")

// checkJSON walks body token by token and checks that it is one JSON
// object and nothing after it, with no name twice in an object, no control
// characters in any string, and, in every object that decodes into a
// struct of dst (the type decoded into, at any depth), only names that
// are exactly the json names of its fields.
func checkJSON(body []byte, dst reflect.Type) error {
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
	// typ is what the object or array decodes into (nil: not checked) and
	// next what its next value does.
	type frame struct {
		object bool
		names  map[string]bool
		expect bool // true when the next token of an object is a name
		typ    reflect.Type
		next   reflect.Type
	}
	stack := []frame{{object: true, names: map[string]bool{}, expect: true, typ: container(dst, reflect.Struct, reflect.Map)}}
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
			f.next = nil
			switch {
			case f.typ == nil:
			case f.typ.Kind() == reflect.Map:
				f.next = f.typ.Elem()
			default:
				t, ok := jsonFields(f.typ)[name]
				if !ok {
					return unknownField(name, f.typ)
				}
				f.next = t
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
				stack = append(stack, frame{object: true, names: map[string]bool{}, expect: true, typ: container(f.next, reflect.Struct, reflect.Map)})
			case '[':
				next := container(f.next, reflect.Slice, reflect.Array)
				if next != nil {
					next = next.Elem()
				}
				stack = append(stack, frame{next: next})
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

// unknownField is the error for the name of an object member that is not a
// field of t. A name that differs from a field's only in case or by
// Unicode folding ("Expiration", "permiſſions") is told which one it
// resembles, since encoding/json alone would have taken it for that one.
func unknownField(name string, t reflect.Type) error {
	for field := range jsonFields(t) {
		if strings.EqualFold(name, field) {
			return pihu.ParamErrorf(pihu.EParameterUnknown, name,
				"%q is not a field of this request: field names match exactly, so write it %q.", name, field)
		}
	}
	return pihu.ParamErrorf(pihu.EParameterUnknown, name, "%q is not a field of this request; remove it.", name)
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// container returns t without its pointers if it is of one of the kinds
// given and decodes the plain way, and nil otherwise: a type with its own
// UnmarshalJSON, an interface, or a value of another kind (which the
// decoder then refuses as a wrong type).
func container(t reflect.Type, kinds ...reflect.Kind) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil
	}
	for _, k := range kinds {
		if t.Kind() == k {
			return t
		}
	}
	return nil
}

// fieldCache holds jsonFields' answer for each struct type.
var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields returns the json names of struct type t's fields, as
// encoding/json names them (the tag's name, else the Go name; fields of
// untagged embedded structs promoted), with the type each decodes into.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	addFields(m, t)
	fieldCache.Store(t, m)
	return m
}

func addFields(m map[string]reflect.Type, t reflect.Type) {
	var embedded []reflect.Type
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		m[name] = sf.Type
	}
	// Fields of the outer struct win over promoted ones.
	for _, ft := range embedded {
		inner := map[string]reflect.Type{}
		addFields(inner, ft)
		for name, typ := range inner {
			if _, ok := m[name]; !ok {
				m[name] = typ
			}
		}
	}
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
