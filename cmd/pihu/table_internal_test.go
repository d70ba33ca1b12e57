package main

import (
	"encoding/json"
	"testing"
)

// TestCell: what cell shows of text a terminal would obey, and what it
// leaves as it is.
func TestCell(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"CI runner", "CI runner"},
		{"Zürich 東京 🙂", "Zürich 東京 🙂"},
		{"a\tb\nc\rd", "a b c d"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"bell\a", `bell\a`},
		{"\u202eexe.txt", `\u202eexe.txt`},
		{"\u2066isolate\u2069", `\u2066isolate\u2069`},
		{"zero\u200bwidth", `zero\u200bwidth`},
		{"line\u2028sep", `line\u2028sep`},
		{"c1\u009bcsi", `c1\u009bcsi`},
		{"tag\U000E0041", `tag\U000e0041`},
		{"bad\xffutf8", `bad\xffutf8`},
	} {
		if got := cell(tt.in); got != tt.want {
			t.Errorf("cell(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestTerminalJSON: the JSON printed is the same value, with what cell
// would escape written as JSON escapes.
func TestTerminalJSON(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{"name":"plain"}` + "\n", `{"name":"plain"}` + "\n"},
		{"{\"name\":\"\u202eexe\"}", `{"name":"\u202eexe"}`},
		{"{\"name\":\"tag\U000E0041\"}", `{"name":"tag\udb40\udc41"}`},
		{"{\"name\":\"Zürich \u2028\"}\n", `{"name":"Zürich \u2028"}` + "\n"},
	} {
		got := terminalJSON([]byte(tt.in))
		if string(got) != tt.want {
			t.Errorf("terminalJSON(%q): got %q, want %q", tt.in, got, tt.want)
		}
		var a, b any
		if err := json.Unmarshal([]byte(tt.in), &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &b); err != nil || a.(map[string]any)["name"] != b.(map[string]any)["name"] {
			t.Errorf("terminalJSON(%q): %v, %v: not the same value", tt.in, a, b)
		}
	}
}
