package http

import (
	"bytes"
	"context"
	"crypto/hmac"
	"io"
	"log/slog"
	"net/http"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
)

// Idempotent requests (Stripe's Idempotency-Key). A POST that carries the
// header acts at most once per key and scope: the first request reserves
// a record, runs, and stores its response sealed (see pihu.IdempotencyKey)
// before the client sees it; a retry with the same key and the same
// request within 24 hours gets that response again, marked with
// Idempotent-Replayed: true, and acts no more. The header is ignored on
// every other method, as Stripe does: a GET changes nothing, and a DELETE
// answers a retry with a 404.
//
// The step runs after authentication, the key's rate limit and its
// permission check, so that a 401, 403 for a missing permission or 429 is
// never stored, and right before the handler. A record is scoped to the
// authenticating key (two keys of one account never see each other's
// records, which may show secrets), or to the client address for the one
// POST without authentication.

// ReplayedHeader marks a response that is a replay of a stored one.
const ReplayedHeader = "Idempotent-Replayed"

// replayedHeaders are the headers of a response that are stored and
// replayed with it. The others (Request-Id, RateLimit-*) belong to the
// request that gets the replay.
var replayedHeaders = []string{"Content-Type", "Cache-Control", "Pragma", "WWW-Authenticate"}

// keyIdempotencyScope and idempotencyScope name the scope of a record:
// the key that made the request (or the access token, which never sees
// its parent key's records: they may show secrets the token may not
// have), or, for a request without one, the client address.
func keyIdempotencyScope(k *pihu.Key) string {
	if k.Token != nil {
		return "token:" + k.Token.ID
	}
	return "key:" + k.ID
}

func idempotencyScope(r *http.Request, caller *pihu.Key) string {
	if caller != nil {
		return keyIdempotencyScope(caller)
	}
	return "ip:" + clientIP(r)
}

// idempotent serves r with h, applying r's Idempotency-Key, if any, in
// the scope of caller, the authenticated key, or of the client address on
// a route without one (nil). A record of a request that ended its caller
// is marked, so that it can be replayed to it later (see
// replayToEndedKey).
//
// admit, if not nil, is called once: admit(true) just before h runs, which
// may refuse the request (false: it wrote the error), and admit(false)
// when h does not run (a replay, a refusal of the Idempotency-Key), whose
// answer it may not change. It spends the caller's credits, so that a
// replay spends none.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, caller *pihu.Key, admit func(run bool) bool, h http.HandlerFunc) {
	if admit == nil {
		admit = func(bool) bool { return true }
	}
	values := r.Header.Values(pihu.IdempotencyKeyHeader)
	if r.Method != http.MethodPost || len(values) == 0 {
		if admit(true) {
			h(w, r)
		}
		return
	}
	if len(values) > 1 {
		admit(false)
		s.writeError(w, r, pihu.ParamErrorf(pihu.EParameterInvalid, pihu.IdempotencyKeyHeader,
			"Send one Idempotency-Key header, not %d.", len(values)))
		return
	}
	ik, err := pihu.NewIdempotencyKey(idempotencyScope(r, caller), values[0])
	if err != nil {
		admit(false)
		s.writeError(w, r, err)
		return
	}
	body, ok := readBody(r)
	if !ok {
		// Too large or unreadable: the handler refuses it, and
		// there is nothing to replay.
		if admit(true) {
			h(w, r)
		}
		return
	}
	rec := &pihu.IdempotencyRecord{
		Lookup:      ik.Lookup(),
		Fingerprint: ik.Fingerprint(r.Method, r.URL.RequestURI(), body),
		Token:       requestID(r.Context()),
		Created:     pihu.Timestamp(s.now()),
	}
	existing, err := s.store.ReserveIdempotency(r.Context(), rec)
	if existing == nil && err == nil {
		if !admit(true) {
			// Refused before running (out of credits): a retry may
			// pass, so nothing is kept to replay.
			s.releaseIdempotency(context.WithoutCancel(r.Context()), r, rec)
			return
		}
		s.runOnce(w, r, ik, rec, caller, h)
		return
	}
	admit(false)
	switch {
	case err != nil:
		s.writeError(w, r, err)
	case !hmac.Equal(existing.Fingerprint, rec.Fingerprint):
		s.writeError(w, r, pihu.ParamErrorf(pihu.EIdempotencyKeyReused, pihu.IdempotencyKeyHeader,
			"This Idempotency-Key was used for another request (method, path or body) in the last 24 hours. "+
				"Send the same request to get its response again, or use a new key for a new request."))
	case !existing.Done():
		s.writeError(w, r, pihu.Errorf(pihu.EIdempotencyKeyInUse,
			"A request with this Idempotency-Key is still running. Retry in a few seconds to get its response."))
	default:
		s.replay(w, r, ik, existing)
	}
}

// readBody reads r's body, up to MaxBodyBytes, and gives r a body that
// reads the same bytes again. ok is false if the body is larger or cannot
// be read; r's body then still reads as it would have.
func readBody(r *http.Request) (body []byte, ok bool) {
	limit := maxBody(r)
	if r.ContentLength > limit {
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil || int64(len(body)) > limit {
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), errorReader{err}, r.Body), r.Body}
		return nil, false
	}
	r.Body = readCloser{bytes.NewReader(body), r.Body}
	return body, true
}

type readCloser struct {
	io.Reader
	io.Closer
}

// errorReader fails with err, or reads nothing if err is nil.
type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) {
	if e.err == nil {
		return 0, io.EOF
	}
	return 0, e.err
}

// runOnce runs h for the request that reserved rec, then stores its
// response (or releases rec if there is nothing worth replaying) before
// the client sees it, so that a retry that follows the response replays
// it.
func (s *Server) runOnce(w http.ResponseWriter, r *http.Request, ik *pihu.IdempotencyKey, rec *pihu.IdempotencyRecord, caller *pihu.Key, h http.HandlerFunc) {
	// The record outlives a client that went away: it is completed or
	// released whatever the request's context says.
	ctx := context.WithoutCancel(r.Context())
	buf := &bufferedWriter{header: w.Header(), status: http.StatusOK}
	finished := false
	defer func() {
		if !finished { // h panicked: the server answers 500
			s.releaseIdempotency(ctx, r, rec)
		}
	}()
	h(buf, r)
	finished = true

	if stored(buf.status) {
		rec.Status = buf.status
		resp := pihu.IdempotentResponse{Header: map[string]string{}, Body: buf.body.Bytes()}
		if buf.status < 300 {
			resp.Ended = s.endedKey(ctx, r, caller)
		}
		rec.EndedKey = resp.Ended != nil
		for _, name := range replayedHeaders {
			if v := w.Header().Get(name); v != "" {
				resp.Header[name] = v
			}
		}
		sealed, err := ik.Seal(rec.Status, resp)
		if err == nil {
			rec.Response = sealed
			err = s.store.CompleteIdempotency(ctx, rec)
		}
		if err != nil {
			// The request acted; its answer goes out, but a retry
			// may act again once the record's lock is stale.
			s.logger.LogAttrs(ctx, slog.LevelError, "storing an idempotent response",
				slog.String("request_id", requestID(ctx)), slog.String("err", err.Error()))
		}
	} else {
		s.releaseIdempotency(ctx, r, rec)
	}
	w.WriteHeader(buf.status)
	w.Write(buf.body.Bytes())
}

// stored reports whether a response of status is stored for replay: a
// success or a refusal of the request itself, but not a failed
// authentication or rate limit (which a retry may pass) and not a fault
// (5xx), after which a retry may act.
func stored(status int) bool {
	switch {
	case status >= 200 && status < 300:
		return true
	case status == http.StatusUnauthorized, status == http.StatusTooManyRequests:
		return false
	default:
		return status >= 400 && status < 500
	}
}

func (s *Server) releaseIdempotency(ctx context.Context, r *http.Request, rec *pihu.IdempotencyRecord) {
	if err := s.store.ReleaseIdempotency(ctx, rec); err != nil {
		s.logger.LogAttrs(ctx, slog.LevelError, "releasing an idempotency key",
			slog.String("request_id", requestID(r.Context())), slog.String("err", err.Error()))
	}
}

// endedKey reports how the request just made with caller ended it, if it
// revoked it or shortened its life (a key rotating itself, say): the
// request's client may then hold no working key but the one in the
// response. nil if it did not, and for an access token, which never ends
// its key.
func (s *Server) endedKey(ctx context.Context, r *http.Request, caller *pihu.Key) *pihu.KeyEnd {
	if caller == nil || caller.Token != nil {
		return nil
	}
	after, err := s.store.Key(ctx, caller.AccountID, caller.ID)
	if err != nil {
		s.logger.LogAttrs(ctx, slog.LevelError, "reading the key of an idempotent request",
			slog.String("request_id", requestID(r.Context())), slog.String("err", err.Error()))
		return nil
	}
	if after.Revoked != nil && caller.Revoked == nil {
		return &pihu.KeyEnd{Revoked: after.Revoked}
	}
	if after.Expires != nil && (caller.Expires == nil || after.Expires.Before(*caller.Expires)) {
		return &pihu.KeyEnd{Expires: after.Expires}
	}
	return nil
}

// replay answers r with the stored response of rec.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, ik *pihu.IdempotencyKey, rec *pihu.IdempotencyRecord) {
	resp, err := ik.Open(rec.Status, rec.Response)
	if err != nil { // only a record changed at rest gets here
		s.writeError(w, r, err)
		return
	}
	writeReplay(w, rec.Status, resp)
}

// writeReplay writes resp, of status, as a replay.
func writeReplay(w http.ResponseWriter, status int, resp pihu.IdempotentResponse) {
	h := w.Header()
	for name, v := range resp.Header {
		h.Set(name, v)
	}
	h.Set(ReplayedHeader, "true")
	w.WriteHeader(status)
	w.Write(resp.Body)
}

// replayToEndedKey serves, to a POST whose key no longer works (authErr is
// EExpiredAPIKey or ERevokedAPIKey), the stored response of the request
// that ended that key, if r is a retry of it: the same key, Idempotency-Key
// and request, and the key is still as that request left it (see
// pihu.KeyEnd: not revoked or given another expiry by someone else since)
// and holds perm, the route's permission. It answers nothing else, and
// reports whether it answered.
//
// Without it, a key that rotates itself with expire_old_in "now" and loses
// the response (a timeout, a crash) locks its holder out: the old key no
// longer works, and nobody has the new one.
func (s *Server) replayToEndedKey(w http.ResponseWriter, r *http.Request, perm pihu.Permission, authErr error) bool {
	if code := pihu.ErrorCode(authErr); code != pihu.EExpiredAPIKey && code != pihu.ERevokedAPIKey {
		return false
	}
	values := r.Header.Values(pihu.IdempotencyKeyHeader)
	if r.Method != http.MethodPost || len(values) != 1 {
		return false
	}
	secret, err := BearerToken(r.Header.Get("Authorization"))
	if err != nil {
		return false
	}
	k, err := s.auth.Lookup(r.Context(), secret)
	if err != nil {
		return false
	}
	resp, status, ok := s.endedRecord(r, k, values[0])
	if !ok {
		return false
	}
	// The replay is a request made with k: the admission's checks, as for
	// any request (a replay runs nothing, so it spends no credit). A key
	// that could not make the request now (its address, the route's
	// permission) gets no replay, only its authentication error.
	need := auth.Need{ClientIP: clientIP(r)}
	if perm != "" {
		need.Permissions = []pihu.Permission{perm}
	}
	d, err := s.adm.Check(r.Context(), k, need)
	if err == nil && (d.Outcome == auth.RefusedAddress || d.Outcome == auth.RefusedPermission) {
		return false
	}
	if rw, ok := w.(*responseWriter); ok {
		rw.key = k
	}
	if err == nil && d.Allowed() {
		err = s.adm.Charge(r.Context(), &d, 0, false)
	}
	if err == nil {
		err = s.refusal(w, r, d)
	}
	if err != nil {
		s.writeError(w, r, err)
		return true
	}
	writeReplay(w, status, resp)
	return true
}

// endedRecord returns the response, and its status, of the finished
// request that r retries with key k and the Idempotency-Key value, if
// that request ended k and k is, as stored now, still as it left it.
func (s *Server) endedRecord(r *http.Request, k *pihu.Key, value string) (resp pihu.IdempotentResponse, status int, ok bool) {
	ik, err := pihu.NewIdempotencyKey(keyIdempotencyScope(k), value)
	if err != nil {
		return resp, 0, false
	}
	rec, err := s.store.IdempotencyRecord(r.Context(), ik.Lookup(), s.now())
	if err != nil || !rec.Done() || !rec.EndedKey {
		return resp, 0, false
	}
	body, ok := readBody(r)
	if !ok || !hmac.Equal(rec.Fingerprint, ik.Fingerprint(r.Method, r.URL.RequestURI(), body)) {
		return resp, 0, false
	}
	if resp, err = ik.Open(rec.Status, rec.Response); err != nil {
		return resp, 0, false
	}
	now, err := s.store.Key(r.Context(), k.AccountID, k.ID)
	if err != nil || !resp.Ended.Matches(now) {
		return resp, 0, false
	}
	return resp, rec.Status, true
}

// bufferedWriter holds a handler's response until it is stored. Headers
// go straight to the real response.
type bufferedWriter struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(status int) {
	if !b.wrote {
		b.status, b.wrote = status, true
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}
