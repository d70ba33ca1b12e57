package client_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocs_GoClientExample checks that docs/go-client.md shows the body of
// Example, which the tests compile, unchanged: the docs cannot show code
// that does not build.
func TestDocs_GoClientExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/go-client.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/go-client.md shows no Go code")
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "example_test.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var body string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "Example" {
			body = string(src[fn.Body.Lbrace+1 : fn.Body.Rbrace-1])
		}
	}
	if body == "" {
		t.Fatal("example_test.go has no func Example")
	}
	var lines []string
	for _, l := range strings.Split(strings.Trim(body, "\n"), "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	want := strings.Join(lines, "\n") + "\n"
	if got := string(m[1]); got != want {
		t.Errorf("docs/go-client.md shows another program than Example in example_test.go:\ngot\n%s\nwant\n%s", got, want)
	}
}
