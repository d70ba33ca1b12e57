package http

import (
	"net/http"

	"github.com/pihu-ai/pihu"
)

// KeyUsage is the response of GET /v1/auth/api-keys/{id}/usage: how many
// requests the key made in each bucket of the window, oldest first, every
// bucket present (zeros included).
type KeyUsage struct {
	KeyID string `json:"key_id"`
	// Granularity is "hour" (24 buckets) or "day" (30 UTC days).
	Granularity string `json:"granularity"`
	// Start and End are the window: the first bucket's start, and the
	// last bucket's end (exclusive; the last bucket holds now).
	Start string        `json:"start"`
	End   string        `json:"end"`
	Total UsageCounts   `json:"total"`
	Data  []UsageBucket `json:"data"`
}

// UsageCounts are requests let through (allowed) and refused after the
// key was recognised (refused: an address outside allowed_ips, the rate
// limit spent, a missing permission, credits used up), with why.
type UsageCounts struct {
	Allowed   int64     `json:"allowed"`
	Refused   int64     `json:"refused"`
	RefusedBy RefusedBy `json:"refused_by"`
}

// RefusedBy splits refused requests by the error code they were answered
// with. Other is those refused before the server kept reasons (its
// history from an earlier version): the fields always add up to refused.
type RefusedBy struct {
	RateLimited             int64 `json:"rate_limited"`
	IPNotAllowed            int64 `json:"ip_not_allowed"`
	InsufficientPermissions int64 `json:"insufficient_permissions"`
	UsageExceeded           int64 `json:"usage_exceeded"`
	DisabledAPIKey          int64 `json:"disabled_api_key"`
	Other                   int64 `json:"other"`
}

func newRefusedBy(refused int64, by pihu.Refusals) RefusedBy {
	return RefusedBy{
		RateLimited:             by[pihu.RefusalRateLimit],
		IPNotAllowed:            by[pihu.RefusalAddress],
		InsufficientPermissions: by[pihu.RefusalPermission],
		UsageExceeded:           by[pihu.RefusalCredits],
		DisabledAPIKey:          by[pihu.RefusalDisabled],
		Other:                   refused - by.Sum(),
	}
}

// UsageBucket is one hour or day of a KeyUsage.
type UsageBucket struct {
	Start string `json:"start"`
	UsageCounts
}

// NewKeyUsage is the response showing series, the usage of key id.
func NewKeyUsage(id string, series pihu.UsageSeries) KeyUsage {
	out := KeyUsage{
		KeyID: id, Granularity: string(series.Granularity),
		Start: timestamp(series.Start), End: timestamp(series.End),
		Total: UsageCounts{series.Allowed, series.Refused, newRefusedBy(series.Refused, series.By)},
		Data:  make([]UsageBucket, len(series.Buckets)),
	}
	for i, b := range series.Buckets {
		out.Data[i] = UsageBucket{timestamp(b.Start), UsageCounts{b.Allowed, b.Refused, newRefusedBy(b.Refused, b.By)}}
	}
	return out
}

// keyUsage answers the usage of a key the caller may see, revoked keys
// included: what a revoked or leaked key did before and after it was
// revoked is what an incident review needs. Requests not yet flushed to the
// store are included (see auth.Authenticator.Usage).
func (s *Server) keyUsage(w http.ResponseWriter, r *http.Request) {
	g, err := parseGranularity(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	k, err := s.lookupKey(r, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	from, to := g.Window(now)
	counts, err := s.auth.Usage(r.Context(), k.AccountID, k.ID, from, to)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewKeyUsage(k.ID, pihu.NewUsageSeries(g, now, counts)))
}

// IdentityUsage is the response of GET /v1/identities/{id}/usage: the
// requests of all the identity's keys (revoked ones included), in the
// buckets of KeyUsage, by outcome.
type IdentityUsage struct {
	IdentityID  string        `json:"identity_id"`
	Granularity string        `json:"granularity"`
	Start       string        `json:"start"`
	End         string        `json:"end"`
	Total       UsageCounts   `json:"total"`
	Data        []UsageBucket `json:"data"`
}

// identityUsage answers the usage of an identity of the caller's account
// and environment: its keys' counts added up, the requests not yet
// flushed included, as for one key.
func (s *Server) identityUsage(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	g, err := parseGranularity(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	i, err := s.store.Identity(r.Context(), pihu.ScopeOf(caller), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ids, err := s.store.IdentityKeys(r.Context(), i.AccountID, i.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	from, to := g.Window(now)
	var counts []pihu.UsageCount
	for _, id := range ids {
		c, err := s.auth.Usage(r.Context(), i.AccountID, id, from, to)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		counts = append(counts, c...)
	}
	ku := NewKeyUsage("", pihu.NewUsageSeries(g, now, counts))
	writeJSON(w, http.StatusOK, IdentityUsage{IdentityID: i.ID, Granularity: ku.Granularity, Start: ku.Start, End: ku.End, Total: ku.Total, Data: ku.Data})
}

// parseGranularity reads the one query parameter of a usage request:
// granularity, "hour" (the default) or "day".
func parseGranularity(r *http.Request) (pihu.UsageGranularity, error) {
	q, err := query(r, "granularity")
	if err != nil {
		return "", err
	}
	g := pihu.UsageHourly
	if vs, ok := q["granularity"]; ok {
		g = pihu.UsageGranularity(vs[0])
		if err := g.Validate(); err != nil {
			return "", err
		}
	}
	return g, nil
}
