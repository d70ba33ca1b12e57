package pihu

import (
	"regexp"
	"strings"
)

// secretPattern matches anything shaped like a key, checksum right or not.
var secretPattern = regexp.MustCompile(`ph_(?:live|test)_[0-9A-Za-z]{40,}`)

// MaskSecrets replaces everything in s shaped like a key (right checksum or
// not) by its hint, so that text bound for a log or a screen never carries
// a key. It is cheap when s holds no "ph_".
func MaskSecrets(s string) string {
	if !strings.Contains(s, "ph_") {
		return s
	}
	return secretPattern.ReplaceAllStringFunc(s, func(m string) string {
		return m[:len("ph_live_")] + "…" + m[len(m)-4:]
	})
}
