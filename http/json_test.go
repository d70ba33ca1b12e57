package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pihu-ai/pihu"
)

// fuzzRequest has fields at every depth the decoder checks: a struct in a
// field, structs in an array, structs as the values of a map, and a type
// with its own UnmarshalJSON, whose names are its own business.
type fuzzRequest struct {
	Name        *string            `json:"name"`
	Permissions *[]pihu.Permission `json:"permissions"`
	Inner       *struct {
		Limit int    `json:"limit"`
		Note  string `json:"note,omitempty"`
	} `json:"inner"`
	List []struct {
		ID string `json:"id"`
	} `json:"list"`
	Labels map[string]struct {
		On bool `json:"on"`
	} `json:"labels"`
	Raw     json.RawMessage `json:"raw"`
	Any     any             `json:"any"`
	Ignored string          `json:"-"`
}

// FuzzDecode states the decoder's property: a body it accepts names, in
// every object that decodes into a struct, only the exact json names of
// that struct's fields; a body it refuses gets a 4xx *pihu.Error.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"name":"x","permissions":["*"]}`,
		`{"Name":"x"}`,
		`{"permiſſions":["*"]}`,
		`{"inner":{"limit":1,"LIMIT":2}}`,
		`{"inner":{"note":"a"},"list":[{"id":"a"},{"Id":"b"}]}`,
		`{"labels":{"Anything":{"on":true},"b":{"ON":true}}}`,
		`{"raw":{"Whatever":1},"any":{"X":[{"Y":1}]}}`,
		`{"Ignored":"x"}`,
		`{"-":"x"}`,
		`{"\u212aey":1}`,
		`{"name":"a","name":"b"}`,
		`[]`,
		``,
		`null`,
		`{"name":"a"} {}`,
		`{"name":"a"}x`,
		" {\"name\":\"a\u0085\"}",
		"{\"name\":\"a\u007f\"}",
		"{\"name\":\"\u00a3\",\"name\":1}",
		"{\"name\":\"a\tb\"}",
		`{"name":"a\u0000"}`,
		`{"name":1,"nope":2}`,
		`{"inner":{"limit":"1"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var dst fuzzRequest
		err := decode(httptest.NewRecorder(), r, &dst, true)
		// decode skips checkJSON for a body that cannot need it: its
		// answer is the one of checkJSON always followed by the decoder.
		if strings.TrimSpace(body) != "" && utf8.ValidString(body) {
			var want fuzzRequest
			wantErr := checkJSON([]byte(body))
			if wantErr == nil {
				if uerr := unmarshal([]byte(body), &want); uerr != nil {
					wantErr = decodeError(uerr)
				}
			}
			if !reflect.DeepEqual(err, wantErr) || err == nil && !reflect.DeepEqual(dst, want) {
				t.Fatalf("decode(%q) = %v, %+v; checkJSON then the decoder: %v, %+v", body, err, dst, wantErr, want)
			}
		}
		if err != nil {
			var e *pihu.Error
			if !errors.As(err, &e) {
				t.Fatalf("decode(%q): %v is not a *pihu.Error", body, err)
			}
			if s := statusOf(e.Code); s < 400 || s > 499 {
				t.Fatalf("decode(%q): code %q is status %d, want 4xx", body, e.Code, s)
			}
			return
		}
		if strings.TrimSpace(body) == "" {
			return
		}
		var v any
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("decode accepted %q, which is not JSON: %v", body, err)
		}
		if name, ok := inexactName(v, reflect.TypeFor[fuzzRequest]()); !ok {
			t.Fatalf("decode accepted %q with the name %q, which is not a field's exact json name", body, name)
		}
	})
}

// inexactName walks v, a decoded JSON value, alongside t, the type it was
// decoded into, and returns the first object member name that is not the
// exact json name of a field, in the objects that decode into a struct.
func inexactName(v any, t reflect.Type) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[json.RawMessage]() {
		return "", true
	}
	switch v := v.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Struct:
			fields := map[string]reflect.Type{}
			for i := range t.NumField() {
				name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
				if name != "-" {
					fields[name] = t.Field(i).Type
				}
			}
			for name, member := range v {
				ft, ok := fields[name]
				if !ok {
					return name, false
				}
				if name, ok := inexactName(member, ft); !ok {
					return name, false
				}
			}
		case reflect.Map:
			for _, member := range v {
				if name, ok := inexactName(member, t.Elem()); !ok {
					return name, false
				}
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for _, elem := range v {
				if name, ok := inexactName(elem, t.Elem()); !ok {
					return name, false
				}
			}
		}
	}
	return "", true
}

// TestDecode_ExactNames checks the decoder on the types fuzzRequest nests,
// for the names the fuzzer's property is about.
func TestDecode_ExactNames(t *testing.T) {
	for _, tc := range []struct {
		body, param string // param "" for a body accepted
	}{
		{`{"name":"x","permissions":["*"]}`, ""},
		{`{"Name":"x"}`, "Name"},
		{`{"permiſſions":["*"]}`, "permiſſions"},
		{`{"inner":{"limit":1,"LIMIT":2}}`, "LIMIT"},
		{`{"inner":{"limit":1,"note":"a"}}`, ""},
		{`{"list":[{"id":"a"},{"Id":"b"}]}`, "Id"},
		{`{"labels":{"Anything":{"on":true}}}`, ""},
		{`{"labels":{"b":{"ON":true}}}`, "ON"},
		{`{"raw":{"Whatever":1},"any":{"X":[{"Y":1}]}}`, ""},
		{`{"Ignored":"x"}`, "Ignored"},
		{`{"-":"x"}`, "-"},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/json")
		var dst fuzzRequest
		err := decode(httptest.NewRecorder(), r, &dst, false)
		var e *pihu.Error
		switch {
		case tc.param == "" && err != nil:
			t.Errorf("%s: got %v, want it accepted", tc.body, err)
		case tc.param != "" && (!errors.As(err, &e) || e.Code != pihu.EParameterUnknown || e.Param != tc.param):
			t.Errorf("%s: got %v, want parameter_unknown on %q", tc.body, err, tc.param)
		}
	}
	// The refused names are not folded onto the fields either: the
	// decoder stops before encoding/json sees them.
	var dst fuzzRequest
	body := bytes.NewBufferString(`{"Name":"x"}`)
	r := httptest.NewRequest("POST", "/", body)
	r.Header.Set("Content-Type", "application/json")
	if decode(httptest.NewRecorder(), r, &dst, false) == nil || dst.Name != nil {
		t.Errorf("\"Name\" was decoded onto name: %v", dst.Name)
	}
}
