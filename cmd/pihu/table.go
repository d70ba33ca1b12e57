package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// What the commands print comes from the database or the API, where
// anyone who could name a key, an account or an endpoint, or set a key's
// metadata, wrote it. Printed raw to a terminal, an escape sequence in it
// could move the cursor, rewrite the lines above, set the window's title
// or hide what follows, and a bidirectional control could make text read
// in another order than it is stored ("Trojan Source"). So every table is
// printed through table, whose every cell goes through cell, and every
// JSON answer through terminalJSON.

// table prints rows of cells aligned in columns, each cell made safe to
// print (cell): the one way the commands print a table.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer) *table {
	return &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

// row adds a line of cells.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		io.WriteString(t.tw, cell(c))
	}
	io.WriteString(t.tw, "\n")
}

// flush prints the table.
func (t *table) flush() error { return t.tw.Flush() }

// cell makes s safe to print on a terminal, on one line of a table: a
// tab or a line break becomes a space, and every other character that is
// not graphic (a control such as ESC or BEL, a bidirectional control such
// as U+202E, another invisible format character, a line or paragraph
// separator), and every byte that is not UTF-8, is shown escaped as Go
// writes it ("\x1b", "\u202e"), so that a person sees it rather than the
// terminal obeying it.
func cell(s string) string {
	if printable(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case unicode.IsGraphic(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r) // '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

// printable reports whether s is printable ASCII only, which cell leaves
// as it is: the names of almost every key.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// terminalJSON returns the JSON document raw with every character of its
// strings that cell would escape written as a JSON escape ("\u001b",
// "\u202e") instead: the same JSON value, which prints safely. Outside
// strings valid JSON has nothing but ASCII tokens and white space, which
// are left as they are; invalid UTF-8 becomes "\ufffd", as a JSON decoder
// reads it.
func terminalJSON(raw []byte) []byte {
	if printable(string(raw)) {
		return raw
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		r, size := utf8.DecodeRune(raw[i:])
		if r == '\t' || r == '\n' || r == '\r' || unicode.IsGraphic(r) && !(r == utf8.RuneError && size == 1) {
			out = append(out, raw[i:i+size]...)
		} else {
			if r == utf8.RuneError {
				r = unicode.ReplacementChar
			}
			for _, u := range utf16.Encode([]rune{r}) {
				out = fmt.Appendf(out, `\u%04x`, u)
			}
		}
		i += size
	}
	return out
}

// encodeJSON writes the JSON of v, safe for a terminal (terminalJSON),
// and a line break, as json.Encoder does.
func encodeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(terminalJSON(b), '\n'))
	return err
}
