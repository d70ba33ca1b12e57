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

// spendCredits spends cost credits of k, a key with credits (k.Credits
// is not nil: the cache says so, and a key without any costs no read),
// for a request made with it or a verification of it. Returns the spend,
// and EUsageExceeded (see usageExceeded) if its credits do not cover it.
// An access token spends its parent key's credits.
func (s *Server) spendCredits(w http.ResponseWriter, r *http.Request, k *pihu.Key, cost int64) (pihu.Spend, error) {
	sp, err := s.store.SpendCredits(r.Context(), k.ID, cost, s.now())
	if err != nil {
		return sp, err
	}
	if !sp.OK {
		return sp, s.usageExceeded(w, r, k, sp)
	}
	return sp, nil
}

// usageExceeded is the one place where a key is found out of credits, for
// a request or a verification: it tells keyEvents (the webhook event
// api_key.usage_exceeded, at most once an hour per key), returns the EUsageExceeded error, with
// the next refill in its message, and sets the headers that carry it for
// machines (Pihu-Credits-Refill, and Retry-After in seconds) when the key
// has a refill. w is nil for a verification, which answers in its body.
func (s *Server) usageExceeded(w http.ResponseWriter, r *http.Request, k *pihu.Key, sp pihu.Spend) error {
	if s.keyEvents != nil {
		s.keyEvents.UsageExceeded(k)
	}
	if sp.NextRefill == nil {
		return pihu.Errorf(pihu.EUsageExceeded,
			"This API key has used all its credits, and has no refill. Add credits with PATCH /v1/auth/api-keys/%s, or use another key.", k.ID)
	}
	next := timestamp(*sp.NextRefill)
	if w != nil {
		w.Header().Set(HeaderCreditsRefill, next)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(sp.NextRefill.Sub(s.now())))))
	}
	return pihu.Errorf(pihu.EUsageExceeded,
		"This API key has used all its credits; they are refilled at %s (in %s). Add credits with PATCH /v1/auth/api-keys/%s, or use another key.",
		next, sp.NextRefill.Sub(s.now()).Round(time.Second), k.ID)
}
