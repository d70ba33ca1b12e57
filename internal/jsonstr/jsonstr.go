// Package jsonstr appends strings as JSON string literals, without
// reflection or allocation, for the bodies and log lines the request path
// writes by hand. It writes exactly what encoding/json writes (html) or
// what log/slog's JSON handler writes, so that a hand-written body or log
// line is byte for byte the one the library would have produced.
package jsonstr

import "unicode/utf8"

// Append appends s to b as a JSON string: '"', '\' and control characters
// escaped, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped. With html
// it is encoding/json's form ('<', '>' and '&' as \u003c, \u003e and
// \u0026; '\b' and '\f' as such); without, slog's ('<', '>' and '&' as
// they are; '\b' and '\f' as \u0008 and \u000c).
func Append(b []byte, s string, html bool) []byte {
	const hex = "0123456789abcdef"
	safe := &plain
	if html {
		safe = &htmlSafe
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch {
			case c == '\\' || c == '"':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case html && c == '\b':
				b = append(b, '\\', 'b')
			case html && c == '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plain and htmlSafe are true for the ASCII characters a JSON string holds
// as they are, in slog's form and in encoding/json's.
var plain, htmlSafe = func() (p, h [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		p[c] = c != '"' && c != '\\'
		h[c] = p[c] && c != '<' && c != '>' && c != '&'
	}
	return p, h
}()
