package pihu_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
)

// refPosition is the line and byte column of offset in text, both from 1,
// counted the slow way.
func refPosition(text []byte, offset int) (line, column int) {
	line, column = 1, 1
	for _, c := range text[:offset] {
		if c == '\n' {
			line, column = line+1, 1
		} else {
			column++
		}
	}
	return line, column
}

// checkMatches checks what FindSecrets must always hold: every match is a
// key with a right checksum, stands in the text where it says, and comes
// after the one before it without overlapping.
func checkMatches(tb testing.TB, text []byte, matches []pihu.SecretMatch) {
	tb.Helper()
	next := 0
	for _, m := range matches {
		if _, ok := pihu.ParseSecret(m.Secret); !ok {
			tb.Fatalf("reported %q, which is not a key with a right checksum", m.Secret)
		}
		if m.Offset < next || m.Offset+len(m.Secret) > len(text) || string(text[m.Offset:m.Offset+len(m.Secret)]) != m.Secret {
			tb.Fatalf("match at %d (%q) is not where it says, or overlaps the one before (ending at %d)", m.Offset, m.Secret, next)
		}
		if line, col := refPosition(text, m.Offset); m.Line != line || m.Column != col {
			tb.Fatalf("match at %d: got %d:%d, want %d:%d", m.Offset, m.Line, m.Column, line, col)
		}
		next = m.Offset + len(m.Secret)
	}
}

func secrets(matches []pihu.SecretMatch) []string {
	out := make([]string, len(matches))
	for i, m := range matches {
		out[i] = m.Secret
	}
	return out
}

func TestFindSecrets(t *testing.T) {
	live, test := pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Test)
	lookalike := live[:20] + flipChar(live[20]) + live[21:]
	long := withChecksum("ph_live_" + strings.Repeat("Z", 250))    // the longest body ParseSecret takes
	shortest := withChecksum("ph_test_" + strings.Repeat("q", 34)) // the shortest
	for _, tt := range []struct {
		name string
		text string
		want []string
		pos  [][2]int // line, column of each
	}{
		{"Empty", "", nil, nil},
		{"NoKey", "nothing to see here, ph_ and ph_live_ alone", nil, nil},
		{"Alone", live, []string{live}, [][2]int{{1, 1}}},
		{"InConfig", "# config\nAPI_KEY=" + live + "\n", []string{live}, [][2]int{{2, 9}}},
		{"Quoted", `{"key": "` + test + `"}`, []string{test}, [][2]int{{1, 10}}},
		{"TwoOnALine", live + " " + test, []string{live, test}, [][2]int{{1, 1}, {1, len(live) + 2}}},
		{"RunTogether", live + test + live, []string{live, test, live}, [][2]int{{1, 1}, {1, len(live) + 1}, {1, 2*len(live) + 1}}},
		{"CRLF", "a\r\nb\r\n  " + live, []string{live}, [][2]int{{3, 3}}},
		{"FollowedByLetters", live + "abc", []string{live}, [][2]int{{1, 1}}},
		{"AfterLetters", "xyz" + test, []string{test}, [][2]int{{1, 4}}},
		{"UnicodeBefore", "é " + live, []string{live}, [][2]int{{1, 4}}},
		{"Longest", long + ".", []string{long}, [][2]int{{1, 1}}},
		{"Shortest", shortest, []string{shortest}, [][2]int{{1, 1}}},
		{"ErrLookalike", "token: " + lookalike, nil, nil},
		{"ErrTooShort", withChecksum("ph_live_" + strings.Repeat("q", 33)), nil, nil},
		{"ErrOtherEnvironment", withChecksum("ph_prod_" + strings.Repeat("q", 43)), nil, nil},
		{"ErrUpperCase", strings.ToUpper(live[:8]) + live[8:], nil, nil},
		{"ErrCut", live[:len(live)-1], nil, nil},
		{"LookalikeThenKey", lookalike + "\n" + live, []string{live}, [][2]int{{2, 1}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := []byte(tt.text)
			got := pihu.FindSecrets(text)
			checkMatches(t, text, got)
			if fmt.Sprint(secrets(got)) != fmt.Sprint(tt.want) {
				t.Fatalf("got %d keys %v, want %d", len(got), secrets(got), len(tt.want))
			}
			for i, m := range got {
				if m.Line != tt.pos[i][0] || m.Column != tt.pos[i][1] {
					t.Errorf("key %d: got %d:%d, want %d:%d", i, m.Line, m.Column, tt.pos[i][0], tt.pos[i][1])
				}
			}
		})
	}
}

// TestFindSecrets_NextKeyWins builds text where a lookalike's run, with
// the "ph" of the key right after it, has a right checksum: the key that
// starts there is found as itself, and the run is not taken.
func TestFindSecrets_NextKeyWins(t *testing.T) {
	var fake string
	for i := 0; fake == ""; i++ {
		body := fmt.Sprintf("ph_live_%040d", i)
		if cs := refChecksum(body); strings.HasSuffix(cs, "ph") {
			fake = body + cs
		}
	}
	if _, ok := pihu.ParseSecret(fake); !ok {
		t.Fatalf("%q: want a right checksum", fake)
	}
	k := pihu.NewSecret(pihu.Live)
	text := []byte(fake[:len(fake)-2] + k)
	got := pihu.FindSecrets(text)
	checkMatches(t, text, got)
	if len(got) != 1 || got[0].Secret != k {
		t.Errorf("got %v, want only the key after the run", secrets(got))
	}
}

func flipChar(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

// fuzzKey turns fuzz bytes into a key with a right checksum: a body of 34
// to 60 base62 characters and its checksum, from the reference
// implementation.
func fuzzKey(raw string, test bool) string {
	prefix := "ph_live_"
	if test {
		prefix = "ph_test_"
	}
	body := make([]byte, 0, 60)
	for i := 0; i < len(raw) && len(body) < 60; i++ {
		body = append(body, refAlphabet[raw[i]%62])
	}
	for len(body) < 34 {
		body = append(body, refAlphabet[len(body)%62])
	}
	return withChecksum(prefix + string(body))
}

// FuzzFindSecrets states that the scanner finds every key it is given,
// embedded in random text: two keys with random text before, between and
// after them are both reported, each at its place, as themselves, or, when
// the text right after a key continues it with base62 characters that
// happen to give a longer key a right checksum, as that longer key; and
// nothing that is not a key with a right checksum is ever reported.
func FuzzFindSecrets(f *testing.F) {
	f.Add([]byte("API_KEY="), []byte("\n"), []byte("\n"), "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "k", false, true)
	f.Add([]byte(""), []byte(""), []byte(""), "", "", false, false)
	f.Add([]byte("ph_live_"), []byte("ph"), []byte("_live_"), "x", "y", true, false)
	f.Add([]byte("ph_live_"+strings.Repeat("A", 60)), []byte{}, []byte("abc"), "run into", "each other", false, false)
	f.Add([]byte("\xff\x00binary"), []byte("é"), []byte("ph_test_"), "0", "1", true, true)
	f.Fuzz(func(t *testing.T, before, middle, after []byte, raw1, raw2 string, test1, test2 bool) {
		k1, k2 := fuzzKey(raw1, test1), fuzzKey(raw2, test2)
		var text bytes.Buffer
		text.Write(before)
		off1 := text.Len()
		text.WriteString(k1)
		text.Write(middle)
		off2 := text.Len()
		text.WriteString(k2)
		text.Write(after)
		matches := pihu.FindSecrets(text.Bytes())
		checkMatches(t, text.Bytes(), matches)

		for _, k := range []struct {
			secret string
			offset int
		}{{k1, off1}, {k2, off2}} {
			found := false
			for _, m := range matches {
				if m.Offset == k.offset {
					found = m.Secret == k.secret || strings.HasPrefix(m.Secret, k.secret)
					break
				}
			}
			if !found {
				t.Fatalf("key %q at %d not found in %q; found %v", k.secret, k.offset, text.Bytes(), secrets(matches))
			}
		}
	})
}

func BenchmarkFindSecrets(b *testing.B) {
	// A megabyte of source-like text with a key in the middle and
	// lookalikes throughout.
	line := []byte("\tconfig.Set(\"ph_live_notakey\", value) // see https://example.com/docs?a=b\n")
	text := bytes.Repeat(line, (1<<20)/len(line))
	text = append(text[:len(text)/2], append([]byte(pihu.NewSecret(pihu.Live)+"\n"), text[len(text)/2:]...)...)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if n := len(pihu.FindSecrets(text)); n != 1 {
			b.Fatalf("found %d keys, want 1", n)
		}
	}
}
