package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/pihu-ai/pihu"
)

// Headers of a 403 usage_exceeded: when the key's credits come back, for
// a client to wait for it without parsing the message.
const (
	// HeaderCreditsRefill is the next refill, RFC 3339; absent for a key
	// without a refill.
	HeaderCreditsRefill = "Pihu-Credits-Refill"
)

// usageExceeded words a request refused for k's credits (the admission
// tells keyEvents): the EUsageExceeded error, with the next refill in its
// message, and the headers that carry it for machines
// (Pihu-Credits-Refill, and Retry-After in seconds) when the key has a
// refill.
func (s *Server) usageExceeded(w http.ResponseWriter, k *pihu.Key, sp pihu.Spend) error {
	if sp.NextRefill == nil {
		return pihu.Errorf(pihu.EUsageExceeded,
			"This API key has used all its credits, and has no refill. Add credits with PATCH /v1/auth/api-keys/%s, or use another key.", k.ID)
	}
	next := timestamp(*sp.NextRefill)
	w.Header().Set(HeaderCreditsRefill, next)
	w.Header().Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(sp.NextRefill.Sub(s.now())))))
	return pihu.Errorf(pihu.EUsageExceeded,
		"This API key has used all its credits; they are refilled at %s (in %s). Add credits with PATCH /v1/auth/api-keys/%s, or use another key.",
		next, sp.NextRefill.Sub(s.now()).Round(time.Second), k.ID)
}
