package pihu

import (
	"bytes"
	"cmp"
	"errors"
	"hash/crc32"
	"io"
	"iter"
	"slices"
	"strings"
	"unicode"
)

// SecretMatch is a key that FindSecrets found in a text.
type SecretMatch struct {
	Secret string
	// Offset is the byte offset of the key's first character or, for a
	// key found by decoding, of the text its first character was decoded
	// from.
	Offset int
	// Line and Column locate Offset as editors and compilers do: both
	// count from 1, lines end at '\n', and the column counts bytes.
	Line, Column int
	// Encoding is how the key is written in the text: "" as itself, or
	// EncodingBase64, EncodingPercent or EncodingJSON.
	Encoding string
}

// The encodings FindSecrets decodes, as SecretMatch.Encoding names them.
const (
	// EncodingBase64 is base64, standard or URL alphabet, padded or not,
	// with the key anywhere in the decoded bytes (as in "user:KEY").
	EncodingBase64 = "base64"
	// EncodingPercent is URL percent-encoding (%70h_live_…), some or all
	// of the key's characters escaped.
	EncodingPercent = "percent"
	// EncodingJSON is JSON and JavaScript \u escapes (\u0070h_live_…),
	// some or all of the key's characters escaped.
	EncodingJSON = "json-escape"
)

// maxSecretBody is the most base62 characters after the environment prefix
// that ParseSecret accepts.
const maxSecretBody = 256

// maxSecretLen is the longest key, prefix included.
const maxSecretLen = len("ph_live_") + maxSecretBody

// FindSecrets returns every key in text whose checksum is right, in the
// order of their offsets: the keys that leaked, and never a lookalike.
//
// A key is found wherever it stands, even run into other text; when base62
// characters follow it without a break, the longest run that is a key with
// a right checksum is taken (a real key followed by letters is still
// found, as itself, unless those letters happen to make a longer key).
// Keys written as themselves never overlap.
//
// Keys are also found encoded once, in base64, percent-encoding or JSON
// \u escapes (see the Encoding constants), with Offset at the encoded
// text. Only runs of text long enough to hold an encoded key, and only the
// places in them where an encoded key prefix or an escape stands, are
// decoded, so that plain text costs little more. A key written as itself
// is reported once, as itself.
func FindSecrets(text []byte) []SecretMatch {
	var f finder
	ms := f.find(text)
	var p position
	for i := range ms {
		p.locate(text, 0, &ms[i])
	}
	return ms
}

// finder holds the buffers FindSecrets reuses between calls.
type finder struct {
	out     []SecretMatch
	decoded []byte
	src     []int
}

// find returns the keys in text, plain and encoded, sorted by offset,
// without their lines and columns, in a slice that the next call reuses.
func (f *finder) find(text []byte) []SecretMatch {
	f.out = f.out[:0]
	f.out = findPlain(text, f.out, nil, "")
	plain := len(f.out)
	for lo, hi := range encodedRuns(text) {
		n := len(f.out)
		run := text[lo:hi]
		f.findBase64(run)
		f.findEscaped(run, EncodingPercent, []byte("%"), percentAt)
		f.findEscaped(run, EncodingJSON, []byte(`\u`), jsonEscapeAt)
		for i := n; i < len(f.out); i++ {
			f.out[i].Offset += lo
		}
	}
	if len(f.out) == plain {
		return f.out
	}
	slices.SortStableFunc(f.out, func(a, b SecretMatch) int { return cmp.Compare(a.Offset, b.Offset) })
	// A key found twice at the same place (as itself first, since the
	// sort is stable) is reported once.
	f.out = slices.CompactFunc(f.out, func(a, b SecretMatch) bool {
		return a.Offset == b.Offset && a.Secret == b.Secret
	})
	return f.out
}

// findPlain appends to out the keys written as themselves in text. If src
// is not nil, text was decoded and src[i] is the offset in the original
// text of text[i], with one more entry for the end: only the keys with a
// decoded character in them are appended, at their original offsets.
func findPlain(text []byte, out []SecretMatch, src []int, encoding string) []SecretMatch {
	for i := 0; ; {
		j := bytes.Index(text[i:], []byte(keyPrefix))
		if j < 0 {
			return out
		}
		p := i + j
		n := secretAt(text, p, true)
		if n == 0 {
			i = p + len(keyPrefix)
			continue
		}
		secret := string(text[p : p+n])
		if _, ok := ParseSecret(secret); !ok {
			// secretAt checks exactly what ParseSecret does; this is the
			// one authority all the same.
			i = p + len(keyPrefix)
			continue
		}
		i = p + n
		if src == nil {
			out = append(out, SecretMatch{Secret: secret, Offset: p})
		} else if src[p+n]-src[p] > n {
			out = append(out, SecretMatch{Secret: secret, Offset: src[p], Encoding: encoding})
		}
	}
}

// position counts lines up to an offset, for matches in increasing order.
type position struct {
	line      int // the line of counted (0 before the first call)
	lineStart int // offset of the first byte of that line
	counted   int // newlines are counted up to here
}

// locate sets m.Line and m.Column; text holds the bytes from offset base
// on, and p.counted must not be before base.
func (p *position) locate(text []byte, base int, m *SecretMatch) {
	p.advance(text, base, m.Offset)
	m.Line, m.Column = p.line, m.Offset-p.lineStart+1
}

// advance counts the lines up to offset to.
func (p *position) advance(text []byte, base, to int) {
	if p.line == 0 {
		p.line = 1
	}
	if to <= p.counted {
		return
	}
	seg := text[p.counted-base : to-base]
	if nl := bytes.Count(seg, []byte{'\n'}); nl > 0 {
		p.line += nl
		p.lineStart = p.counted + bytes.LastIndexByte(seg, '\n') + 1
	}
	p.counted = to
}

// secretAt returns the length of the longest key with a right checksum
// starting at text[p:], or 0 if there is none. If yieldToNext, a run that
// ends in the "ph" of a prefix starting another key stops before that
// "ph", so that the next key is found as itself; otherwise (when checking
// that next key) it does not look further.
func secretAt(text []byte, p int, yieldToNext bool) int {
	rest := text[p:]
	if !bytes.HasPrefix(rest, []byte("ph_live_")) && !bytes.HasPrefix(rest, []byte("ph_test_")) {
		return 0
	}
	const head = len("ph_live_")
	end := head
	for end < len(rest) && end-head < maxSecretBody+2 && isBase62(rest[end]) {
		end++
	}
	if yieldToNext && end >= head+2 && secretAt(text, p+end-2, false) > 0 {
		end -= 2
	}
	end = min(end, head+maxSecretBody)
	if end-head < MinSecretBody {
		return 0
	}
	// Try every length from the shortest to the longest, growing the
	// CRC of what precedes the checksum one byte at a time.
	best := 0
	crc := crc32.ChecksumIEEE(rest[:head+MinSecretBody-checksumLength])
	for n := head + MinSecretBody; n <= end; n++ {
		if decodeChecksum(rest[n-checksumLength:n]) == uint64(crc) {
			best = n
		}
		if n < end {
			crc = crc32.Update(crc, crc32.IEEETable, rest[n-checksumLength:n-checksumLength+1])
		}
	}
	return best
}

// decodeChecksum reads 6 base62 characters as a number. Since 62⁶ > 2³²,
// it equals a CRC32 exactly when the characters are that CRC's checksum.
func decodeChecksum(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		var d byte
		switch {
		case c <= '9':
			d = c - '0'
		case c <= 'Z':
			d = c - 'A' + 10
		default:
			d = c - 'a' + 36
		}
		n = n*62 + uint64(d)
	}
	return n
}

// encodedClass holds the bytes an encoded key is written with: key
// characters, and what base64 (+/-) and escapes (% and \) add.
var encodedClass = func() (t [256]bool) {
	for c := range 256 {
		t[c] = isKeyChar(byte(c)) || strings.IndexByte("+/-%\\", byte(c)) >= 0
	}
	return t
}()

// minEncoded is the fewest bytes an encoded key takes: one a character
// (percent and JSON escapes take more, and base64 a third more).
const minEncoded = len("ph_live_") + MinSecretBody

// encodedRuns yields the start and end of each run of encodedClass bytes
// in text long enough to hold an encoded key, with the key characters
// after it that decide where it ends: the only places the decoders need
// to look. Like Horspool's search, it looks at the last byte a run could
// have from each place, and back from there, so that it reads about one
// byte in ten of ordinary text.
func encodedRuns(text []byte) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for p := 0; p+minEncoded <= len(text); {
			// No run of minEncoded bytes starts before p.
			m := p + minEncoded - 1
			for m >= p && encodedClass[text[m]] {
				m--
			}
			if m >= p {
				p = m + 1
				continue
			}
			hi := p + minEncoded
			for hi < len(text) && encodedClass[text[hi]] {
				hi++
			}
			if !yield(p, hi) {
				return
			}
			p = hi + 1
		}
	}
}

// isKeyChar reports whether c can be part of a key.
func isKeyChar(c byte) bool { return isBase62(c) || c == '_' }

// findEscaped appends the keys in text written with at least one
// character escaped: it looks only around each marker (the start of an
// escape), decodes the run of key characters and escapes there, and finds
// the keys in it.
func (f *finder) findEscaped(text []byte, encoding string, marker []byte, at func([]byte, int) (byte, int)) {
	spanEnd := 0 // the end of the last run decoded
	for i := 0; ; {
		j := bytes.Index(text[i:], marker)
		if j < 0 {
			return
		}
		e := i + j
		if _, n := at(text, e); n == 0 {
			i = e + 1
			continue
		}
		// The run starts with the key characters before this, the first
		// escape in it, as far back as a key can reach.
		start := e
		for start > spanEnd && e-start < maxSecretLen && isKeyChar(text[start-1]) {
			start--
		}
		f.decoded, f.src = f.decoded[:0], f.src[:0]
		for k := start; k < e; k++ {
			f.decoded, f.src = append(f.decoded, text[k]), append(f.src, k)
		}
		k := e
		for k < len(text) {
			if c, n := at(text, k); n > 0 {
				f.decoded, f.src = append(f.decoded, c), append(f.src, k)
				k += n
			} else if isKeyChar(text[k]) {
				f.decoded, f.src = append(f.decoded, text[k]), append(f.src, k)
				k++
			} else {
				break
			}
		}
		f.src = append(f.src, k)
		f.out = findPlain(f.decoded, f.out, f.src, encoding)
		spanEnd, i = k, k
	}
}

// percentAt reads a percent escape of a key character at text[i:] and
// returns the character and the escape's length, or 0, 0.
func percentAt(text []byte, i int) (byte, int) {
	if i+2 >= len(text) || text[i] != '%' {
		return 0, 0
	}
	hi, ok1 := unhex(text[i+1])
	lo, ok2 := unhex(text[i+2])
	if c := hi<<4 | lo; ok1 && ok2 && isKeyChar(c) {
		return c, 3
	}
	return 0, 0
}

// jsonEscapeAt reads a \uXXXX escape of a key character at text[i:] and
// returns the character and the escape's length, or 0, 0.
func jsonEscapeAt(text []byte, i int) (byte, int) {
	if i+5 >= len(text) || text[i] != '\\' || text[i+1] != 'u' || text[i+2] != '0' || text[i+3] != '0' {
		return 0, 0
	}
	hi, ok1 := unhex(text[i+4])
	lo, ok2 := unhex(text[i+5])
	if c := hi<<4 | lo; ok1 && ok2 && isKeyChar(c) {
		return c, 6
	}
	return 0, 0
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// base64Values maps both base64 alphabets, standard (+/) and URL (-_),
// to the 6 bits each character stands for, and everything else to 0xff.
var base64Values = func() (t [256]byte) {
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range t {
		t[i] = 0xff
	}
	for i := range len(std) {
		t[std[i]] = byte(i)
	}
	t['-'], t['_'] = 62, 63
	return t
}()

// base64Prefix is what a key prefix looks like in base64 when it starts
// at a given byte of a 3-byte group.
type base64Prefix struct {
	// lead is the characters of the group before the first one the
	// prefix decides; skip is how many bytes of the group come before
	// the prefix (0, 1 or 2).
	lead, skip int
	// envs are the characters that "ph_live_" and "ph_test_" decide.
	envs [2]string
	// anchor is what is looked for: the part of what both envs start with
	// from its first upper-case letter (rarer in text than lower case, so
	// that the search stops less often), at anchorAt in them.
	anchor   string
	anchorAt int
}

// base64Prefixes are the key prefixes in base64 at each of the three
// places a byte can have in a group: "cGhf", "BoX" or "waF9", then
// "bGl2ZV" or "dGVzdF" and so on. They hold no character that differs
// between the two alphabets, so one search finds both.
var base64Prefixes = func() (out [3]base64Prefix) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	// decided returns the characters of the base64 of skip zero bytes and
	// then s that depend on s alone, and the index of the first.
	decided := func(skip int, s string) (string, int) {
		bits := make([]byte, 0, 8*(skip+len(s)))
		for _, b := range append(make([]byte, skip), s...) {
			for k := 7; k >= 0; k-- {
				bits = append(bits, b>>k&1)
			}
		}
		var chars []byte
		first := (8*skip + 5) / 6
		for c := first; 6*c+6 <= len(bits); c++ {
			v := 0
			for _, bit := range bits[6*c : 6*c+6] {
				v = v<<1 | int(bit)
			}
			chars = append(chars, alphabet[v])
		}
		return string(chars), first
	}
	for skip := range out {
		live, lead := decided(skip, "ph_live_")
		test, _ := decided(skip, "ph_test_")
		n := 0
		for n < len(live) && live[n] == test[n] {
			n++
		}
		at := max(0, strings.IndexFunc(live[:n], unicode.IsUpper))
		out[skip] = base64Prefix{lead: lead, skip: skip, envs: [2]string{live, test}, anchor: live[at:n], anchorAt: at}
	}
	return out
}()

// findBase64 appends the keys in text written in base64: it looks for the
// base64 of a key prefix, at each of the three places a byte can have in
// a group, and decodes from the start of that group.
func (f *finder) findBase64(text []byte) {
	for _, bp := range base64Prefixes {
		for i := bp.anchorAt; i <= len(text); {
			j := bytes.Index(text[i:], []byte(bp.anchor))
			if j < 0 {
				break
			}
			q := i + j - bp.anchorAt // where the prefix's characters start
			i += j + 1
			group := q - bp.lead
			if group < 0 || !(hasPrefixAt(text, q, bp.envs[0]) || hasPrefixAt(text, q, bp.envs[1])) {
				continue
			}
			f.decoded = decodeBase64(f.decoded[:0], text[group:], bp.skip+3*maxSecretLen)
			if len(f.decoded) < bp.skip {
				continue
			}
			n := secretAt(f.decoded, bp.skip, true)
			if n == 0 {
				continue
			}
			secret := string(f.decoded[bp.skip : bp.skip+n])
			if _, ok := ParseSecret(secret); ok {
				// The key's first bit is in the character 8·skip/6 of
				// the group.
				f.out = append(f.out, SecretMatch{Secret: secret, Offset: group + 8*bp.skip/6, Encoding: EncodingBase64})
			}
		}
	}
}

func hasPrefixAt(text []byte, i int, prefix string) bool {
	return len(text)-i >= len(prefix) && string(text[i:i+len(prefix)]) == prefix
}

// decodeBase64 appends to dst the bytes that the base64 characters at the
// start of text stand for, up to max bytes: it stops at the first byte
// that is not a base64 character ('=' included), and a last group of 2 or
// 3 characters gives 1 or 2 bytes.
func decodeBase64(dst, text []byte, max int) []byte {
	var acc uint32
	bits := 0
	for _, c := range text {
		v := base64Values[c]
		if v == 0xff || len(dst) >= max {
			break
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			dst = append(dst, byte(acc>>bits))
		}
	}
	return dst
}

// Reading a stream: the text is read in windows of readChunk bytes and
// readContext more on each side, enough for anything that decides a key
// (the key, written in the longest escapes, and the key after it that may
// make it stop short), so that each window's keys are the whole text's.
const (
	readChunk   = 1 << 20
	readContext = 8 << 10
)

// FindSecretsReader is FindSecrets over a stream of any length, in bounded
// memory: it reads r to its end and calls found with each key, in order,
// with the offset, line and column FindSecrets would give on the whole
// text. It returns the first error from r other than io.EOF (after calling
// found with the keys before it).
func FindSecretsReader(r io.Reader, found func(SecretMatch)) error {
	return findSecretsReader(r, readChunk, found)
}

func findSecretsReader(r io.Reader, chunk int, found func(SecretMatch)) error {
	var (
		f    finder
		pos  position
		buf  = make([]byte, 0, min(chunk+2*readContext, 64<<10))
		base = 0 // the offset of buf[0] in the stream
		from = 0 // keys before this offset were reported
		err  error
	)
	for {
		// Fill the window.
		for len(buf) < chunk+2*readContext && err == nil {
			if len(buf) == cap(buf) {
				buf = slices.Grow(buf, min(cap(buf), chunk+2*readContext-len(buf)))
			}
			var n int
			n, err = r.Read(buf[len(buf):min(cap(buf), chunk+2*readContext)])
			buf = buf[:len(buf)+n]
		}
		end := base + len(buf)
		if err == nil {
			end -= readContext
		}
		for _, m := range f.find(buf) {
			m.Offset += base
			if m.Offset >= from && m.Offset < end {
				pos.locate(buf, base, &m)
				found(m)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		pos.advance(buf, base, end)
		keep := end - readContext - base
		buf = buf[:copy(buf, buf[keep:])]
		base += keep
		from = end
	}
}
