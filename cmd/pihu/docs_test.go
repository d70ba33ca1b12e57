package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docExample is one curl command of the docs, and the response shown
// after it, if any.
type docExample struct {
	where    string // file:line
	command  string // the curl command line, continuation lines joined
	response string // the JSON shown as its answer; "" if none
}

var (
	fence       = regexp.MustCompile("(?s)```(\\w*)\n(.*?)```")
	placeholder = regexp.MustCompile(`(key|cand|intv|we|role|idt)_…`)
)

// docExamples reads every curl command of README.md and docs/*.md. A
// command's response is the ```json block right after its ```sh block
// (when the block holds one command), or the "# {…}" comment lines right
// after the command inside the block.
func docExamples(tb testing.TB) []docExample {
	tb.Helper()
	files, _ := filepath.Glob("../../docs/*.md")
	files = append([]string{"../../README.md"}, files...)
	var out []docExample
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		text := string(b)
		blocks := fence.FindAllStringSubmatchIndex(text, -1)
		for i, m := range blocks {
			lang, body := text[m[2]:m[3]], text[m[4]:m[5]]
			if lang != "sh" || !strings.Contains(body, "curl ") {
				continue
			}
			line := strings.Count(text[:m[0]], "\n") + 1
			lines := strings.Split(strings.ReplaceAll(body, "\\\n", " "), "\n")
			var cmds []docExample
			for j := 0; j < len(lines); j++ {
				l := strings.TrimSpace(lines[j])
				if !strings.HasPrefix(l, "curl ") {
					continue
				}
				// A body given as '{ … }' over several lines.
				for strings.Count(l, "'")%2 == 1 && j+1 < len(lines) {
					j++
					l += "\n" + lines[j]
				}
				ex := docExample{where: fmt.Sprintf("%s:%d", filepath.Base(f), line), command: l}
				var comment []string
				for j+1 < len(lines) && strings.HasPrefix(lines[j+1], "# ") {
					j++
					comment = append(comment, strings.TrimPrefix(lines[j], "# "))
				}
				if len(comment) > 0 && strings.HasPrefix(comment[0], "{") {
					ex.response = strings.Join(comment, "\n")
				}
				cmds = append(cmds, ex)
			}
			if len(cmds) == 1 && cmds[0].response == "" && i+1 < len(blocks) {
				n := blocks[i+1]
				between := strings.TrimSpace(text[m[1]:n[0]])
				if text[n[2]:n[3]] == "json" && between == "" {
					cmds[0].response = text[n[4]:n[5]]
				}
			}
			out = append(out, cmds...)
		}
	}
	return out
}

// shellWords splits a command line as a POSIX shell would, for the quoting
// the docs use: single and double quotes, no expansions.
func shellWords(s string) []string {
	var (
		out   []string
		cur   strings.Builder
		quote rune
		in    bool
	)
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// docResponse turns a documented response into JSON: "…" standing for
// elided members or items is dropped, and an object that had some marks
// itself with the member "…" (its other members need not be listed).
func docResponse(s string) (any, error) {
	s = regexp.MustCompile(`\{\s*…\s*,`).ReplaceAllString(s, `{"…":0,`)
	s = regexp.MustCompile(`,\s*…\s*\}`).ReplaceAllString(s, `,"…":0}`)
	s = regexp.MustCompile(`,\s*…\s*\]`).ReplaceAllString(s, `]`)
	s = regexp.MustCompile(`,\s*…\s*,`).ReplaceAllString(s, `,`)
	s = regexp.MustCompile(`,\s*…\s*\{`).ReplaceAllString(s, `,{`)
	var v any
	err := json.Unmarshal([]byte(s), &v)
	return v, err
}

// sameShape reports where got, a response, lacks a member the docs show or
// has one they do not (unless the docs elide members there), comparing
// objects member by member and arrays by their first items.
func sameShape(doc, got any, path string) []string {
	switch d := doc.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			if got == nil {
				return nil // null where the docs show an example object
			}
			return []string{path + ": not an object"}
		}
		var diffs []string
		_, partial := d["…"]
		for k, dv := range d {
			if k == "…" {
				continue
			}
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, path+"."+k+": documented, not in the response")
				continue
			}
			diffs = append(diffs, sameShape(dv, gv, path+"."+k)...)
		}
		if !partial {
			for k := range g {
				if _, ok := d[k]; !ok {
					diffs = append(diffs, path+"."+k+": in the response, not documented")
				}
			}
		}
		slices.Sort(diffs)
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(d) == 0 || len(g) == 0 {
			return nil
		}
		return sameShape(d[0], g[0], path+"[0]")
	}
	return nil
}

// TestDocs runs every curl example of README.md and docs/ against a real
// server, with its placeholders (key_…, ph_live_…, cand_…, role_…, idt_…,
// we_…, whd_…) made real, and
// checks that it succeeds and that its answer has the members the docs
// show, no fewer and no more: the docs cannot drift from the server.
func TestDocs(t *testing.T) {
	examples := docExamples(t)
	if len(examples) < 15 {
		t.Fatalf("found %d curl examples in the docs; the parser lost some", len(examples))
	}
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)
	var ownerID string
	if code, who := do(t, "GET", s.url+"/v1/auth/whoami", owner, ""); code == 200 {
		ownerID, _ = who["key"].(map[string]any)["id"].(string)
	}
	fresh := func(env string) (id, secret string) {
		code, k := do(t, "POST", s.url+"/v1/auth/api-keys", owner, `{"name":"docs","permissions":["candidate:read"],"environment":"`+env+`"}`)
		if code != 200 {
			t.Fatalf("creating a key for the docs: %d %v", code, k)
		}
		return k["id"].(string), k["key"].(string)
	}
	candidate := func() string {
		code, c := do(t, "POST", s.url+"/v1/candidates", owner, `{"name":"Ada","email":"ada@example.com"}`)
		if code != 200 {
			t.Fatalf("creating a candidate for the docs: %d %v", code, c)
		}
		return c["id"].(string)
	}

	endpoint := func() string {
		code, e := do(t, "POST", s.url+"/v1/webhook-endpoints", owner, `{"url":"https://example.com/pihu-events","events":["api_key.revoked"]}`)
		if code != 200 {
			t.Fatalf("creating a webhook endpoint for the docs: %d %v", code, e)
		}
		return e["id"].(string)
	}

	roles := 0
	role := func() string {
		roles++
		code, r := do(t, "POST", s.url+"/v1/roles", owner, fmt.Sprintf(`{"name":"docs %d","permissions":["candidate:read"]}`, roles))
		if code != 200 {
			t.Fatalf("creating a role for the docs: %d %v", code, r)
		}
		return r["id"].(string)
	}

	identities := 0
	identity := func() string {
		identities++
		code, i := do(t, "POST", s.url+"/v1/identities", owner, fmt.Sprintf(`{"external_id":"docs %d","remaining":100000}`, identities)) // credits, for the docs' "add"
		if code != 200 {
			t.Fatalf("creating an identity for the docs: %d %v", code, i)
		}
		return i["id"].(string)
	}

	for _, ex := range examples {
		t.Run(ex.where, func(t *testing.T) {
			cmd := strings.NewReplacer("$PIHU_API_KEY", owner, "$PIHU_VERIFY_KEY", owner,
				"http://127.0.0.1:8080", s.url, "key_…:ph_live_…", ownerID+":"+owner).Replace(ex.command)
			// A delivery (whd_…) is one of the endpoint the path names: a
			// test event's, sent to a fresh endpoint.
			if strings.Contains(cmd, "/we_…/deliveries/whd_…") {
				e := endpoint()
				code, d := do(t, "POST", s.url+"/v1/webhook-endpoints/"+e+"/test", owner, "")
				if code != 200 {
					t.Fatalf("sending a test event for the docs: %d %v", code, d)
				}
				cmd = strings.Replace(cmd, "/we_…/deliveries/whd_…", "/"+e+"/deliveries/"+d["id"].(string), 1)
			}
			cmd = placeholder.ReplaceAllStringFunc(cmd, func(p string) string {
				switch p {
				case "key_…":
					id, _ := fresh("live")
					return id
				case "cand_…":
					return candidate()
				case "we_…":
					return endpoint()
				case "role_…":
					return role()
				case "idt_…":
					return identity()
				}
				return p
			})
			for _, env := range []string{"live", "test"} {
				for strings.Contains(cmd, `"ph_`+env+`_…"`) {
					_, secret := fresh(env)
					cmd = strings.Replace(cmd, `"ph_`+env+`_…"`, `"`+secret+`"`, 1)
				}
			}
			res, body := runCurl(t, cmd)
			if res.StatusCode >= 400 {
				t.Fatalf("%s\ngot %d %s", ex.command, res.StatusCode, body)
			}
			if ex.response == "" {
				return
			}
			doc, err := docResponse(ex.response)
			if err != nil {
				t.Fatalf("the documented response is not JSON once … is dropped: %v\n%s", err, ex.response)
			}
			var got any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("the response is not JSON: %v\n%s", err, body)
			}
			if diffs := sameShape(doc, got, "$"); len(diffs) > 0 {
				t.Errorf("%s\nthe docs show a response the server does not give:\n  %s\ndocs:   %s\nserver: %s",
					ex.command, strings.Join(diffs, "\n  "), ex.response, body)
			}
		})
	}
}

// runCurl sends the request a curl command line describes (-X, -H, -d,
// -u, -g and the URL; a -d without -X is a POST, form-encoded unless a
// Content-Type is given).
func runCurl(tb testing.TB, cmd string) (*http.Response, []byte) {
	tb.Helper()
	words := shellWords(cmd)
	if len(words) == 0 || words[0] != "curl" {
		tb.Fatalf("not a curl command: %s", cmd)
	}
	method, url := "", ""
	header := http.Header{}
	var data []string
	var user string
	for i := 1; i < len(words); i++ {
		w := words[i]
		next := func() string {
			i++
			if i >= len(words) {
				tb.Fatalf("%s needs a value: %s", w, cmd)
			}
			return words[i]
		}
		switch w {
		case "-X":
			method = next()
		case "-H":
			k, v, _ := strings.Cut(next(), ":")
			header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		case "-d":
			data = append(data, next())
		case "-u":
			user = next()
		case "-g": // --globoff: brackets in the URL, as in metadata[NAME], are themselves
		default:
			if strings.HasPrefix(w, "-") {
				tb.Fatalf("an option the docs test does not know: %s in %s", w, cmd)
			}
			url = w
		}
	}
	var body io.Reader
	if data != nil {
		if method == "" {
			method = "POST"
		}
		body = bytes.NewBufferString(strings.Join(data, "&"))
		if header.Get("Content-Type") == "" {
			header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if method == "" {
		method = "GET"
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		tb.Fatalf("%s: %v", cmd, err)
	}
	req.Header = header
	if user != "" {
		u, p, _ := strings.Cut(user, ":")
		req.SetBasicAuth(u, p)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s: %v", cmd, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return res, b
}
