package pihu_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

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
// key with a right checksum, stands in the text where it says (as itself,
// or encoded as it says), comes in the order of offsets, and a key written
// as itself does not overlap the one before it.
func checkMatches(tb testing.TB, text []byte, matches []pihu.SecretMatch) {
	tb.Helper()
	next, last := 0, 0
	for _, m := range matches {
		if _, ok := pihu.ParseSecret(m.Secret); !ok {
			tb.Fatalf("reported %q, which is not a key with a right checksum", m.Secret)
		}
		if m.Offset < last {
			tb.Fatalf("match at %d comes after one at %d", m.Offset, last)
		}
		last = m.Offset
		if m.Encoding == "" {
			if m.Offset < next || m.Offset+len(m.Secret) > len(text) || string(text[m.Offset:m.Offset+len(m.Secret)]) != m.Secret {
				tb.Fatalf("match at %d (%q) is not where it says, or overlaps the one before (ending at %d)", m.Offset, m.Secret, next)
			}
			next = m.Offset + len(m.Secret)
		} else if !encodedAt(text, m) {
			tb.Fatalf("match at %d (%q) is not there in %s", m.Offset, m.Secret, m.Encoding)
		}
		if line, col := refPosition(text, m.Offset); m.Line != line || m.Column != col {
			tb.Fatalf("match at %d: got %d:%d, want %d:%d", m.Offset, m.Line, m.Column, line, col)
		}
	}
}

// encodedAt reports whether m.Secret is written at m.Offset of text in
// m.Encoding, decoded with the standard library where it can.
func encodedAt(text []byte, m pihu.SecretMatch) bool {
	switch m.Encoding {
	case pihu.EncodingBase64:
		// The key's first bit is in the character at Offset: the first,
		// second or third of a 4-character group.
		for back := range 3 {
			start := m.Offset - back
			if start < 0 {
				continue
			}
			end := start
			for end < len(text) && strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_", text[end]) >= 0 {
				end++
			}
			run := strings.NewReplacer("-", "+", "_", "/").Replace(string(text[start:end]))
			if len(run)%4 == 1 {
				run = run[:len(run)-1]
			}
			b, err := base64.RawStdEncoding.DecodeString(run)
			if err == nil && strings.HasPrefix(string(b[min(back, len(b)):]), m.Secret) {
				return true
			}
		}
		return false
	case pihu.EncodingPercent, pihu.EncodingJSON:
		escape, width := "%", 3
		if m.Encoding == pihu.EncodingJSON {
			escape, width = `\u00`, 6
		}
		var decoded strings.Builder
		escaped := false
		for i := m.Offset; i < len(text) && decoded.Len() < len(m.Secret); {
			if strings.HasPrefix(string(text[i:]), escape) && i+width <= len(text) {
				b, err := hex.DecodeString(string(text[i+width-2 : i+width]))
				if err != nil {
					return false
				}
				decoded.Write(b)
				i += width
				escaped = true
			} else {
				decoded.WriteByte(text[i])
				i++
			}
		}
		return escaped && decoded.String() == m.Secret
	}
	return false
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

// Encoders for the tests, written from the standard library or by hand,
// not from the package.
func b64(s string) string    { return base64.StdEncoding.EncodeToString([]byte(s)) }
func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// percentAll escapes every byte of s.
func percentAll(s string) string {
	var b strings.Builder
	for i := range len(s) {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

// jsonAll writes every byte of s as a \u escape.
func jsonAll(s string) string {
	var b strings.Builder
	for i := range len(s) {
		fmt.Fprintf(&b, `\u%04x`, s[i])
	}
	return b.String()
}

// TestFindSecrets_Encoded checks that keys are found inside base64,
// percent-encoded and JSON-escaped text, say how, and point at where the
// encoded key starts; and that a lookalike encoded is still not reported.
func TestFindSecrets_Encoded(t *testing.T) {
	live, test := pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Test)
	lookalike := live[:20] + flipChar(live[20]) + live[21:]
	type want struct {
		secret   string
		encoding string
		line     int
		column   int
	}
	for _, tt := range []struct {
		name string
		text string
		want []want
	}{
		{"Base64", "token: " + b64(live), []want{{live, "base64", 1, 8}}},
		{"Base64URLNoPadding", "token=" + b64url(test) + "&x=1", []want{{test, "base64", 1, 7}}},
		// Behind 1, 2 and 3 bytes, the key starts at each place of a
		// 3-byte group: in the 2nd, 3rd and 5th character.
		{"Base64AfterOneByte", b64("a" + live), []want{{live, "base64", 1, 2}}},
		{"Base64AfterTwoBytes", b64("ab" + live), []want{{live, "base64", 1, 3}}},
		{"Base64AfterThreeBytes", b64("abc" + live), []want{{live, "base64", 1, 5}}},
		{"Base64BasicAuth", "GET / HTTP/1.1\r\nAuthorization: Basic " + b64("api:"+live) + "\r\n", []want{{live, "base64", 2, 27}}},
		{"Base64KeyThenText", "data: " + b64(test+"\nmore:"+live+"\n"), []want{{test, "base64", 1, 7}, {live, "base64", 1, 7 + (len(test)+6)*4/3}}},
		{"Base64PaddedEnd", "k: " + b64("x"+live) + "\n", []want{{live, "base64", 1, 5}}},
		{"PercentAll", "https://example.com/?key=" + percentAll(live), []want{{live, "percent", 1, 26}}},
		{"PercentSome", "key=ph%5Flive%5f" + live[8:] + "&a=b", []want{{live, "percent", 1, 5}}},
		{"PercentFirstCharacter", "%70" + test[1:], []want{{test, "percent", 1, 1}}},
		{"PercentLastCharacter", "k=" + test[:len(test)-1] + "%" + fmt.Sprintf("%02x", test[len(test)-1]), []want{{test, "percent", 1, 3}}},
		{"JSONAll", `{"key": "` + jsonAll(test) + `"}`, []want{{test, "json-escape", 1, 10}}},
		{"JSONSome", "x\n{\"key\": \"\\u0070h_live_" + live[8:] + "\"}", []want{{live, "json-escape", 2, 10}}},
		{"JSONUpperHex", `"ph\u005Ftest\u005F` + test[8:] + `"`, []want{{test, "json-escape", 1, 2}}},
		{"PlainInJSONOnce", `{"key": "` + live + `\n"}`, []want{{live, "", 1, 10}}},
		{"PlainInURLOnce", "https://x.test/?k=" + live + "%20", []want{{live, "", 1, 19}}},
		{"PlainAndEncodedInOrder", b64(live) + " " + test + " " + percentAll(live), []want{
			{live, "base64", 1, 1}, {test, "", 1, len(b64(live)) + 2}, {live, "percent", 1, len(b64(live)) + len(test) + 3},
		}},
		{"ErrBase64Lookalike", "token: " + b64(lookalike), nil},
		{"ErrBase64Cut", "token: " + b64(live)[:len(b64(live))-8], nil},
		{"ErrPercentLookalike", percentAll(lookalike), nil},
		{"ErrJSONLookalike", jsonAll(lookalike), nil},
		// An escape of a character no key has ends the run.
		{"ErrPercentNotAKeyCharacter", live[:30] + "%2D" + live[30:], nil},
		{"ErrJSONNotAKeyCharacter", live[:30] + `\u002d` + live[30:], nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := []byte(tt.text)
			got := pihu.FindSecrets(text)
			checkMatches(t, text, got)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d keys %v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Secret != w.secret || g.Encoding != w.encoding || g.Line != w.line || g.Column != w.column {
					t.Errorf("key %d: got %s at %d:%d (%q), want %s at %d:%d (%q)", i,
						pihu.Hint(g.Secret), g.Line, g.Column, g.Encoding, pihu.Hint(w.secret), w.line, w.column, w.encoding)
				}
			}
		})
	}
}

// encodings are the ways a test writes a key: each returns the text and
// the byte of it where the key's first character is (or starts to be)
// written.
var encodings = []struct {
	name, encoding string
	encode         func(key string, lead []byte, pad, partial bool) (string, int)
}{
	{"Base64", "base64", func(key string, lead []byte, pad, url bool) (string, int) {
		data := string(lead) + key
		switch {
		case pad && url:
			return base64.URLEncoding.EncodeToString([]byte(data)), len(lead) * 4 / 3
		case pad:
			return base64.StdEncoding.EncodeToString([]byte(data)), len(lead) * 4 / 3
		case url:
			return base64.RawURLEncoding.EncodeToString([]byte(data)), len(lead) * 4 / 3
		}
		return base64.RawStdEncoding.EncodeToString([]byte(data)), len(lead) * 4 / 3
	}},
	{"Percent", "percent", func(key string, lead []byte, _, partial bool) (string, int) {
		if partial {
			// Only the underscores, as some encoders do.
			return strings.ReplaceAll(key, "_", "%5F"), 0
		}
		return percentAll(key), 0
	}},
	{"JSON", "json-escape", func(key string, lead []byte, _, partial bool) (string, int) {
		if partial {
			return `\u0070` + key[1:], 0
		}
		return jsonAll(key), 0
	}},
}

// TestFindSecretsReader checks that reading a stream in windows finds
// exactly what FindSecrets finds in the whole text, at the same lines and
// columns, with keys in every encoding across every edge of a window, and
// whatever the size of each read.
func TestFindSecretsReader(t *testing.T) {
	const chunk = 4096
	var keys []string
	var text bytes.Buffer
	line := []byte("some text, then a key: ph_live_ and more\n")
	for text.Len() < 6*chunk+4*pihu.ReadContext {
		// A key at each place around the edge of a window, shifted a
		// little more each time.
		key := pihu.NewSecret(pihu.Live)
		e := encodings[len(keys)%len(encodings)]
		enc, _ := e.encode(key, []byte("user:"), len(keys)%2 == 0, len(keys)%3 == 0)
		keys = append(keys, key)
		text.Write(line)
		edge := (text.Len()/chunk + 1) * chunk
		text.Write(bytes.Repeat([]byte("x"), max(0, edge-text.Len()-len(enc)/2+len(keys)*7%len(enc))))
		text.WriteString(enc)
		text.WriteString(" " + key + "\n")
	}
	want := pihu.FindSecrets(text.Bytes())
	checkMatches(t, text.Bytes(), want)
	if len(want) != 2*len(keys) {
		t.Fatalf("FindSecrets: got %d keys, want %d", len(want), 2*len(keys))
	}
	for _, tt := range []struct {
		name  string
		r     func(io.Reader) io.Reader
		chunk int
	}{
		{"OneWindow", func(r io.Reader) io.Reader { return r }, 1 << 20},
		{"Windows", func(r io.Reader) io.Reader { return r }, chunk},
		{"SmallWindows", func(r io.Reader) io.Reader { return r }, 257},
		{"OneByteReads", iotest.OneByteReader, chunk},
		{"HalfReads", iotest.HalfReader, chunk + 1},
		{"DataErrReader", iotest.DataErrReader, chunk - 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []pihu.SecretMatch
			err := pihu.FindSecretsReaderChunk(tt.r(bytes.NewReader(text.Bytes())), tt.chunk, func(m pihu.SecretMatch) { got = append(got, m) })
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got %d keys, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
			}
		})
	}
	t.Run("ErrRead", func(t *testing.T) {
		// The keys before a read error are reported, and the error
		// returned.
		boom := errors.New("boom")
		var got []pihu.SecretMatch
		err := pihu.FindSecretsReaderChunk(io.MultiReader(strings.NewReader(keys[0]+"\n"), iotest.ErrReader(boom)), chunk, func(m pihu.SecretMatch) { got = append(got, m) })
		if !errors.Is(err, boom) || len(got) != 1 || got[0].Secret != keys[0] {
			t.Errorf("got %v and %d keys, want %v and 1", err, len(got), boom)
		}
	})
}

// endless is a reader of n bytes of text lines, then tail.
type endless struct {
	n, read int64
	tail    io.Reader
}

func (r *endless) Read(p []byte) (int, error) {
	if r.read == r.n {
		return r.tail.Read(p)
	}
	const line = "0123456789 ph_test_ abcdefghijklmnopqrstuvwxyz.\n" // 48 bytes
	n := 0
	for n < len(p) && r.read < r.n {
		c := copy(p[n:min(int64(len(p)), int64(n)+r.n-r.read)], line[r.read%int64(len(line)):])
		n += c
		r.read += int64(c)
	}
	return n, nil
}

// TestFindSecretsReader_Large streams 48 MiB, far more than a window and
// than the 10 MiB files pihu scan used to skip, and finds the key at its
// end, in little memory.
func TestFindSecretsReader_Large(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 48 MiB")
	}
	const size = 48 << 20 // a multiple of the 48-byte line
	key := pihu.NewSecret(pihu.Test)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var got []pihu.SecretMatch
	err := pihu.FindSecretsReader(&endless{n: size, tail: strings.NewReader("k=" + b64(key))}, func(m pihu.SecretMatch) { got = append(got, m) })
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Secret != key || got[0].Offset != size+2 || got[0].Line != size/48+1 || got[0].Column != 3 || got[0].Encoding != "base64" {
		t.Fatalf("got %v, want the key at %d, line %d, column 3", got, size+2, size/48+1)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("allocated %d MiB to stream %d MiB, want at most 4", alloc>>20, size>>20)
	}
}

// FuzzFindSecretsEncoded states that a key written in any of the three
// encodings the scanner decodes, inside random text, is found, as that
// key (or, when the bytes after it continue it, a longer key with a right
// checksum), where it starts and saying how it was written; and that
// nothing without a right checksum is ever reported.
func FuzzFindSecretsEncoded(f *testing.F) {
	f.Add([]byte("token: "), []byte("\n"), []byte("user:"), []byte(""), "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", false, uint8(0), true, false)
	f.Add([]byte("Authorization: Basic "), []byte("\r\n"), []byte("api:"), []byte("\n"), "k", true, uint8(0), false, true)
	f.Add([]byte("https://x.test/?k="), []byte("&b=%20"), []byte{}, []byte{}, "percent", false, uint8(1), false, false)
	f.Add([]byte("k=ph%5F"), []byte("%"), []byte{}, []byte{}, "partial", true, uint8(1), false, true)
	f.Add([]byte(`{"k":"`), []byte(`\u0070"}`), []byte{}, []byte{}, "json", false, uint8(2), false, false)
	f.Add([]byte(`\\`), []byte(`\u`), []byte{}, []byte{}, "json partial", true, uint8(2), false, true)
	f.Fuzz(func(t *testing.T, before, after, lead, trail []byte, raw string, test bool, how uint8, pad, partial bool) {
		e := encodings[int(how)%len(encodings)]
		key := fuzzKey(raw, test)
		if e.encoding != "base64" {
			lead, trail = nil, nil
		}
		enc, at := e.encode(key+string(trail), lead, pad, partial)
		text := []byte(string(before) + enc + string(after))
		matches := pihu.FindSecrets(text)
		checkMatches(t, text, matches)
		want := len(before) + at
		for _, m := range matches {
			if m.Offset == want && m.Encoding == e.encoding && strings.HasPrefix(m.Secret, key) {
				return
			}
		}
		t.Fatalf("%s key %q at %d not found in %q; found %v", e.encoding, key, want, text, matches)
	})
}

// FuzzFindSecretsReader states that reading in windows finds what
// FindSecrets finds in the whole text: random text, repeated with keys
// written in each encoding around it until it crosses window edges.
func FuzzFindSecretsReader(f *testing.F) {
	f.Add([]byte("ph_live_ %70 \\u0070 cGhf\n"), "key", uint16(100), uint8(3))
	f.Add([]byte("x"), "", uint16(0), uint8(0))
	f.Add([]byte("\n\n\r\n"), "ab", uint16(4096), uint8(40))
	f.Fuzz(func(t *testing.T, piece []byte, raw string, chunk uint16, repeat uint8) {
		key := fuzzKey(raw, false)
		var text bytes.Buffer
		for i := range int(repeat) + 1 {
			text.Write(piece)
			enc, _ := encodings[i%len(encodings)].encode(key, piece, i%2 == 0, i%3 == 0)
			text.WriteString(enc)
			text.Write(bytes.Repeat(piece, pihu.ReadContext/max(1, len(piece))/8))
		}
		want := pihu.FindSecrets(text.Bytes())
		var got []pihu.SecretMatch
		// Windows of at least 512 bytes, so that a run stays short.
		size := int(chunk)%(4*pihu.ReadContext) + 512
		if err := pihu.FindSecretsReaderChunk(bytes.NewReader(text.Bytes()), size, func(m pihu.SecretMatch) { got = append(got, m) }); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("in windows of %d: got %v, want %v", size, got, want)
		}
	})
}

// BenchmarkFindSecrets_Encoded measures text the decoders must look
// into: a megabyte of log lines full of percent escapes, JSON \u escapes
// and base64, with one key in base64 in the middle.
func BenchmarkFindSecrets_Encoded(b *testing.B) {
	line := []byte(`GET /search?q=caf%C3%A9%20au%20lait&lang=fr HTTP/1.1 {"msg":"\u00e9t\u00e9 ok","auth":"Basic dXNlcjpwYXNzd29yZA=="}` + "\n")
	text := bytes.Repeat(line, (1<<20)/len(line))
	text = append(text[:len(text)/2], append([]byte(b64(pihu.NewSecret(pihu.Live))+"\n"), text[len(text)/2:]...)...)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if n := len(pihu.FindSecrets(text)); n != 1 {
			b.Fatalf("found %d keys, want 1", n)
		}
	}
}
