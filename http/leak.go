package http

import (
	"context"

	"github.com/pihu-ai/pihu"
)

// reportedKey is a string reported as a leaked key, and where it was
// found.
type reportedKey struct {
	secret string
	leak   pihu.Leak
}

// recordLeaks handles strings reported as leaked keys: the one path of
// every door that takes such reports (POST /v1/auth/leaked-keys and
// GitHub's secret scanning reports). Each string that is shaped like a key
// with a right checksum is looked up once (the first report of it
// counts); each key of this server is then revoked or flagged, as its
// account's policy says (revoked whatever the policy if force), in one
// store transaction (pihu.LeakStore.RecordLeaks), and every key changed
// is dropped from the cache at once. ip is the client address the report
// came from.
//
// It returns the outcome of every string that is a key of this server,
// revoked or expired ones included (LeakIgnored for those); strings
// absent from it are not keys of this server.
func (s *Server) recordLeaks(ctx context.Context, reported []reportedKey, ip string, force bool) (map[string]pihu.LeakOutcome, error) {
	secrets := make([]string, len(reported))
	leaks := make(map[string]pihu.Leak, len(reported))
	for i, r := range reported {
		secrets[i] = r.secret
		if _, ok := leaks[r.secret]; !ok {
			leaks[r.secret] = r.leak
		}
	}
	var (
		reports []pihu.LeakReport
		known   []string // the secret of each report
	)
	for _, secret := range pihu.LeakedSecrets(secrets) {
		k, err := s.auth.Lookup(ctx, secret)
		if pihu.ErrorCode(err) == pihu.EInvalidAPIKey { // not a key of this server
			continue
		}
		if err != nil {
			return nil, err
		}
		reports = append(reports, pihu.LeakReport{AccountID: k.AccountID, KeyID: k.ID, Leak: leaks[secret], IP: ip, Force: force})
		known = append(known, secret)
	}
	outcomes, err := s.store.RecordLeaks(ctx, reports)
	if err != nil {
		return nil, err
	}
	out := make(map[string]pihu.LeakOutcome, len(known))
	for i, o := range outcomes {
		out[known[i]] = o
		if o != pihu.LeakIgnored {
			s.auth.Invalidate(reports[i].KeyID)
		}
	}
	return out, nil
}
