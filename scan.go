package pihu

import (
	"bytes"
	"hash/crc32"
)

// SecretMatch is a key that FindSecrets found in a text.
type SecretMatch struct {
	Secret string
	// Offset is the byte offset of the key's first character.
	Offset int
	// Line and Column locate it as editors and compilers do: both count
	// from 1, lines end at '\n', and the column counts bytes.
	Line, Column int
}

// maxSecretBody is the most base62 characters after the environment prefix
// that ParseSecret accepts.
const maxSecretBody = 256

// FindSecrets returns every key in text whose checksum is right, in order:
// the keys that leaked, and never a lookalike. A key is found wherever it
// stands, even run into other text; when base62 characters follow it
// without a break, the longest run that is a key with a right checksum is
// taken (a real key followed by letters is still found, as itself, unless
// those letters happen to make a longer key). Keys never overlap.
func FindSecrets(text []byte) []SecretMatch {
	var (
		out       []SecretMatch
		line      = 1
		lineStart = 0 // offset of the first byte of line
		counted   = 0 // newlines are counted up to here
	)
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
		seg := text[counted:p]
		if nl := bytes.Count(seg, []byte{'\n'}); nl > 0 {
			line += nl
			lineStart = counted + bytes.LastIndexByte(seg, '\n') + 1
		}
		counted = p
		out = append(out, SecretMatch{Secret: secret, Offset: p, Line: line, Column: p - lineStart + 1})
		i = p + n
	}
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
