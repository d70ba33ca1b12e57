package http

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

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
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return pihu.Errorf(pihu.EUnsupportedMediaType, "This endpoint accepts only application/json: send the body as JSON, with the header Content-Type: application/json.")
		}
	}
	if !utf8.Valid(body) {
		return pihu.Errorf(pihu.EInvalidJSON, "The request body is not valid UTF-8.")
	}
	// checkJSON runs before the decoder only for a body that could hold a
	// control character, or that is not an object: its other checks are
	// the decoder's own. A body the decoder refuses is then checked, so
	// that checkJSON's answer comes first, worded as always; else the
	// decoder's error is the one it gave on the untouched dst.
	checked := mayHoldControl(body) || !startsObject(body)
	if checked {
		if err := checkJSON(body); err != nil {
			return err
		}
	}
	if err := unmarshal(body, dst); err != nil {
		if !checked {
			if cerr := checkJSON(body); cerr != nil {
				return cerr
			}
		}
		return decodeError(err)
	}
	return nil
}

// unmarshal decodes body into dst. JSON v2's defaults are SPEC §5's:
// names match exactly, no case folding; a name twice, invalid UTF-8 and
// data after the value are refused.
func unmarshal(body []byte, dst any) error {
	return jsonv2.Unmarshal(body, dst, jsonv2.RejectUnknownMembers(true))
}

// mayHoldControl reports whether a string of JSON text body could hold a
// control character (unicode.IsControl: U+0000–U+001F, U+007F–U+009F) once
// decoded: through an escape, a DEL, or a two-byte UTF-8 sequence starting
// 0xC2, which U+0080–U+009F are. Unescaped ones below U+0020 are not
// JSON, and the decoder refuses them.
func mayHoldControl(body []byte) bool {
	for _, c := range body {
		if c == '\\' || c == 0x7f || c == 0xc2 {
			return true
		}
	}
	return false
}

// startsObject reports whether the JSON text body starts with an object.
func startsObject(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
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

// checkJSON reads body token by token, before it is decoded, and checks
// what the decoder does not: that it is one JSON object with nothing after
// it, and that no string in it, name or value at any depth, holds a
// control character (JSON escapes them, so a decoder takes "\u0000"
// gladly). Syntax errors and names given twice in one object are found
// here too, with the answers SPEC §5 gives them.
func checkJSON(body []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	tok, err := dec.ReadToken()
	if err != nil {
		return syntaxError(err)
	}
	if tok.Kind() != '{' {
		return pihu.Errorf(pihu.EInvalidJSON, "The request body must be a JSON object, starting with {.")
	}
	for dec.StackDepth() > 0 {
		tok, err := dec.ReadToken()
		if err != nil {
			return syntaxError(err)
		}
		if tok.Kind() != '"' || !hasControl(tok.String()) {
			continue
		}
		if kind, n := dec.StackIndex(dec.StackDepth()); kind == '{' && n%2 == 1 {
			return pihu.Errorf(pihu.EInvalidJSON, "A field name contains a control character.")
		}
		top := topName(dec.StackPointer())
		return pihu.ParamErrorf(pihu.EParameterInvalid, top, "%q contains a control character (such as a newline or tab); remove it.", top)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return pihu.Errorf(pihu.EInvalidJSON, "The request body has data after its JSON object; send exactly one object.")
	}
	return nil
}

// syntaxError words an error of jsontext's reader.
func syntaxError(err error) error {
	var se *jsontext.SyntacticError
	if errors.Is(err, jsontext.ErrDuplicateName) && errors.As(err, &se) {
		return pihu.Errorf(pihu.EInvalidJSON, "The field %q appears twice in one object.", se.JSONPointer.LastToken())
	}
	return pihu.Errorf(pihu.EInvalidJSON, "The request body is not valid JSON. Send one JSON object, such as {\"name\": \"My API Key\"}.")
}

// topName is the top-level field a JSON pointer is inside of.
func topName(p jsontext.Pointer) string {
	for name := range p.Tokens() {
		return name
	}
	return ""
}

// unknownField is the error for the name of an object member that is not a
// field of t. A name that differs from a field's only in case or by
// Unicode folding ("Expiration", "permiſſions") is told which one it
// resembles, since encoding/json alone would have taken it for that one.
func unknownField(name string, t reflect.Type) error {
	for _, field := range jsonFields(t) {
		if strings.EqualFold(name, field) {
			return pihu.ParamErrorf(pihu.EParameterUnknown, name,
				"%q is not a field of this request: field names match exactly, so write it %q.", name, field)
		}
	}
	return pihu.ParamErrorf(pihu.EParameterUnknown, name, "%q is not a field of this request; remove it.", name)
}

// fieldCache holds jsonFields' answer for each struct type.
var fieldCache sync.Map // reflect.Type → []string

// jsonFields returns the json names of struct type t's fields (the tag's
// name, else the Go name; fields of untagged embedded structs promoted),
// to tell a misspelt name which field it resembles.
func jsonFields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	if names, ok := fieldCache.Load(t); ok {
		return names.([]string)
	}
	var names []string
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case sf.Anonymous && name == "":
			names = append(names, jsonFields(sf.Type)...)
		case sf.IsExported():
			if name == "" {
				name = sf.Name
			}
			names = append(names, name)
		}
	}
	fieldCache.Store(t, names)
	return names
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// decodeError turns an error of JSON v2's Unmarshal, of a body that
// checkJSON accepted, into a parameter error naming the field.
func decodeError(err error) error {
	var e *pihu.Error
	if errors.As(err, &e) {
		return e
	}
	var se *jsonv2.SemanticError
	if !errors.As(err, &se) {
		return pihu.Errorf(pihu.EInvalidJSON, "The request body is not valid JSON for this request.")
	}
	if errors.Is(err, jsonv2.ErrUnknownName) && se.GoType != nil {
		return unknownField(se.JSONPointer.LastToken(), se.GoType)
	}
	param := fieldPath(se.JSONPointer)
	kind := "a value of another kind"
	if se.GoType != nil {
		kind = jsonKind(se.GoType.Kind().String())
	}
	return pihu.ParamErrorf(pihu.EParameterInvalid, param, "%q must be %s.", param, kind)
}

// fieldPath names the field a JSON pointer is at as encoding/json did,
// the object member names joined by dots ("credits.refill.amount"),
// array indexes left out.
func fieldPath(p jsontext.Pointer) string {
	var names []string
	for tok := range p.Tokens() {
		if tok != "" && strings.Trim(tok, "0123456789") == "" {
			continue
		}
		names = append(names, tok)
	}
	return strings.Join(names, ".")
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
