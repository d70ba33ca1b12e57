package http

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pihu-ai/pihu"
)

// Every handler reads its query string through query, so that every route
// answers a query it cannot take the same way: a malformed query string
// (a ';' separator, a broken %-escape), a parameter the route does not
// take, or one given twice is a 400, never dropped or guessed at.
// (r.URL.Query() would silently drop the malformed parts.)

// query returns the parameters of r's query string, each given once and
// among allowed. Returns EParameterInvalid for a malformed query string or
// a parameter given more than once, and EParameterUnknown for any other
// name, checked in the order of the names.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	if r.URL.RawQuery == "" {
		return nil, nil // nothing to parse (reading a nil url.Values is fine)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, malformedQuery(r.URL.RawQuery)
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !slices.ContainsFunc(allowed, func(a string) bool { return matchParam(a, name) }) {
			return nil, unknownParameter(name, allowed)
		}
		if n := len(q[name]); n > 1 {
			return nil, pihu.ParamErrorf(pihu.EParameterInvalid, name, "%q is given %d times; give it once.", name, n)
		}
	}
	return q, nil
}

// matchParam reports whether the query parameter name is allowed, a name
// or a pattern of names: "metadata[KEY]" allows "metadata[plan]" and any
// other non-empty name between the brackets (Stripe's way of giving a
// map), with any characters but "]" in it.
func matchParam(allowed, name string) bool {
	prefix, ok := strings.CutSuffix(allowed, "[KEY]")
	if !ok {
		return allowed == name
	}
	key, ok := strings.CutPrefix(name, prefix+"[")
	if !ok {
		return false
	}
	key, ok = strings.CutSuffix(key, "]")
	return ok && key != "" && !strings.Contains(key, "]")
}

// noParameters refuses any query string, on an endpoint that takes none
// (its parameters, if any, are in the body or the path).
func noParameters(r *http.Request) error {
	_, err := query(r)
	return err
}

func unknownParameter(name string, allowed []string) error {
	if len(allowed) == 0 {
		return pihu.ParamErrorf(pihu.EParameterUnknown, name, "%q is not a parameter of this request; it takes none in the URL.", name)
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = `"` + a + `"`
	}
	return pihu.ParamErrorf(pihu.EParameterUnknown, name, "%q is not a parameter of this request; use %s.", name, strings.Join(quoted, " and "))
}

// malformedQuery says what is wrong with a query string url.ParseQuery
// refused, naming the parameter whose part is broken when its name can be
// read.
func malformedQuery(raw string) error {
	for part := range strings.SplitSeq(raw, "&") {
		name, value, _ := strings.Cut(part, "=")
		_, nameErr := url.QueryUnescape(name)
		_, valueErr := url.QueryUnescape(value)
		semicolon := strings.Contains(part, ";")
		if !semicolon && nameErr == nil && valueErr == nil {
			continue
		}
		param := ""
		if n, err := url.QueryUnescape(strings.SplitN(name, ";", 2)[0]); err == nil {
			param = n
		}
		if semicolon {
			return pihu.ParamErrorf(pihu.EParameterInvalid, param, "The query string holds a \";\", which is not a separator: separate parameters with \"&\", and write a \";\" in a value as %%3B.")
		}
		return pihu.ParamErrorf(pihu.EParameterInvalid, param, "The query string holds a \"%%\" that does not start an escape such as %%20: write a \"%%\" in a value as %%25.")
	}
	return pihu.Errorf(pihu.EParameterInvalid, "The query string could not be read; write it as name=value pairs separated by \"&\", escaping special characters with %%XX.")
}
