package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/ratelimit"
)

// Passkeys (WebAuthn, through github.com/go-webauthn/webauthn). A person
// registers them on the Account page, and signs in with one on the sign-in
// page, without their email or password (a discoverable credential, the
// authenticator having verified the person: a fingerprint, a PIN), or
// after their password, on the page that asks for the second factor.
// navigator.credentials is JavaScript's, so /static/passkeys.js carries the
// options and the authenticator's answers between the browser and the
// JSON endpoints here; every other form on the pages works without it.
//
// Each ceremony's challenge waits in the database (pihu.PasskeyChallenge)
// for its answer, for pihu.PasskeyChallengeLifetime at most, and is used
// once, so that the answer may reach any instance. A client address asks
// for at most challengeLimit of them. Every answer checked spends the
// sign-in budget of the client address (and, once the passkey names them,
// of the person's email), as a password does, and gets it back when it
// was right.

// challengeLimit is how many passkey challenges a client address may ask
// for: each is a write to the database, and a sign-in by any passkey asks
// for one before anyone is known.
var challengeLimit = ratelimit.PerMinute(60)

// maxPasskeyBody bounds the JSON an authenticator's answer arrives in.
const maxPasskeyBody = 64 << 10

// ceremony is a challenge waiting for its answer.
type ceremony struct {
	data webauthn.SessionData
	// register says that it registers a passkey (else it signs in).
	register bool
	// userID is the person registering, or the person whose sign-in
	// waits for its second factor; "" for a sign-in by any passkey.
	userID string
	// session is the digest of the session that began it, which alone
	// may end it.
	session []byte
}

// allowChallenge spends one of the challenges the client address may ask
// for, and answers 429 when none is left. A limiter that fails lets the
// request through, as for a sign-in.
func (h *Handler) allowChallenge(w http.ResponseWriter, r *http.Request) bool {
	res, err := h.limiter.Allow(r.Context(), "passkey-challenge-"+h.addressLimitKey(r), challengeLimit)
	if err != nil {
		h.logger.Error("dashboard: rate limiter failed; passkey challenge let through", "err", err)
		return true
	}
	if !res.Allowed {
		passkeyTooMany(w, retrySeconds(res.RetryAfter), "passkey requests from your address")
	}
	return res.Allowed
}

// putCeremony stores c's challenge for its answer, which may reach any
// instance.
func (h *Handler) putCeremony(r *http.Request, c ceremony) error {
	session, err := json.Marshal(c.data)
	if err != nil {
		return err
	}
	now := h.now()
	return h.store.PutPasskeyChallenge(r.Context(), &pihu.PasskeyChallenge{
		Challenge: c.data.Challenge, Session: session, Register: c.register, UserID: c.userID, SessionDigest: c.session,
		Expires: now.Add(pihu.PasskeyChallengeLifetime),
	}, now, pihu.MaxPasskeyChallenges)
}

// takeCeremony removes and returns the ceremony of challenge, if it is
// still waiting, was begun by the session whose digest is given (nil:
// none), and registers or signs in as asked; ok is false otherwise, and
// err an error of the database.
func (h *Handler) takeCeremony(r *http.Request, challenge string, session []byte, register bool) (c ceremony, ok bool, err error) {
	if challenge == "" || len(challenge) > pihu.MaxPasskeyChallengeLength {
		return c, false, nil
	}
	stored, err := h.store.TakePasskeyChallenge(r.Context(), challenge, h.now())
	if pihu.ErrorCode(err) == pihu.ENotFound {
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	if stored.Register != register || !bytes.Equal(stored.SessionDigest, session) {
		return c, false, nil
	}
	if err := json.Unmarshal(stored.Session, &c.data); err != nil {
		return c, false, fmt.Errorf("passkey challenge: %w", err)
	}
	c.register, c.userID, c.session = stored.Register, stored.UserID, stored.SessionDigest
	return c, true, nil
}

// passkeyUser is a person as the WebAuthn library sees them: their user
// handle is their id (no secret, nothing personal), their passkeys the
// credentials.
type passkeyUser struct {
	u     *pihu.User
	keys  []*pihu.Passkey
	creds []webauthn.Credential
}

func (p *passkeyUser) WebAuthnID() []byte                         { return []byte(p.u.ID) }
func (p *passkeyUser) WebAuthnName() string                       { return p.u.Email }
func (p *passkeyUser) WebAuthnDisplayName() string                { return p.u.Email }
func (p *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return p.creds }

// passkeyUser reads person u's passkeys.
func (h *Handler) passkeyUser(r *http.Request, u *pihu.User) (*passkeyUser, error) {
	keys, err := h.store.ListPasskeys(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	pu := &passkeyUser{u: u, keys: keys}
	for _, k := range keys {
		var c webauthn.Credential
		if err := json.Unmarshal(k.Credential, &c); err != nil {
			return nil, fmt.Errorf("passkey %s: %w", k.ID, err)
		}
		pu.creds = append(pu.creds, c)
	}
	return pu, nil
}

// errPasskeyOrigin is a dashboard reached at an address passkeys cannot
// be bound to; passkeyOriginMessage says so to a person.
var errPasskeyOrigin = errors.New("passkeys need a domain name")

const passkeyOriginMessage = "Passkeys need the dashboard to be reached at a domain name (such as localhost or pihu.example.com), not at an IP address."

// relyingParty is the WebAuthn relying party the request reaches: the
// configured origin (Options.Origin), or the request's own (https when it
// came over TLS, its Host), whose host name is the relying party's id. The
// browser puts the origin it sees in what the authenticator signs, and the
// library refuses another, so a page served elsewhere cannot use a passkey
// made here.
func (h *Handler) relyingParty(r *http.Request) (*webauthn.WebAuthn, error) {
	origin := h.origin
	if origin == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		origin = scheme + "://" + r.Host
	}
	u, err := url.Parse(origin)
	if err != nil || u.Hostname() == "" {
		return nil, errPasskeyOrigin
	}
	if net.ParseIP(u.Hostname()) != nil {
		return nil, errPasskeyOrigin
	}
	return webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: "Pihu", RPOrigins: []string{origin}})
}

// passkeyJSON answers a passkey endpoint with v as JSON.
func passkeyJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// passkeyError answers a passkey endpoint with a message a person reads.
func passkeyError(w http.ResponseWriter, status int, message string) {
	passkeyJSON(w, status, map[string]string{"message": message})
}

// readPasskeyBody reads a passkey endpoint's JSON body, of at most
// maxPasskeyBody bytes.
func readPasskeyBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPasskeyBody))
	if err != nil {
		passkeyError(w, http.StatusRequestEntityTooLarge, "The passkey's answer is too large.")
		return nil, false
	}
	return body, true
}

// passkeyTooMany answers 429 with Retry-After, saying too many of what.
func passkeyTooMany(w http.ResponseWriter, retry int, what string) {
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	passkeyError(w, http.StatusTooManyRequests, fmt.Sprintf("Too many %s. Try again in %d seconds.", what, retry))
}

// passkeyCreationOptions begins registering a passkey of the signed-in
// person: the options navigator.credentials.create takes. The passkey is
// discoverable (it signs in without an email) and verifies the person.
func (h *Handler) passkeyCreationOptions(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.allowChallenge(w, r) {
		return
	}
	rp, err := h.relyingParty(r)
	if err != nil {
		passkeyError(w, http.StatusBadRequest, passkeyOriginMessage)
		return
	}
	pu, err := h.passkeyUser(r, s.user)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if len(pu.keys) >= pihu.MaxPasskeys {
		passkeyError(w, http.StatusBadRequest, pihu.ErrorMessage(pihu.ErrTooManyPasskeys))
		return
	}
	exclude := make([]protocol.CredentialDescriptor, len(pu.creds))
	for i, c := range pu.creds {
		exclude[i] = c.Descriptor()
	}
	creation, data, err := rp.BeginRegistration(pu,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification: protocol.VerificationRequired,
		}),
		webauthn.WithExclusions(exclude))
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if err := h.putCeremony(r, ceremony{data: *data, register: true, userID: s.user.ID, session: s.digest}); err != nil {
		h.internalError(w, r, err)
		return
	}
	passkeyJSON(w, http.StatusOK, creation)
}

// newPasskeyBody is what registers a passkey: its name, and the
// authenticator's answer (a PublicKeyCredential as JSON).
type newPasskeyBody struct {
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

// createPasskey ends registering a passkey: it checks the authenticator's
// answer against the challenge this session was given, and stores the
// passkey with a user.passkey_added event.
func (h *Handler) createPasskey(w http.ResponseWriter, r *http.Request, s *session) {
	raw, ok := readPasskeyBody(w, r)
	if !ok {
		return
	}
	var body newPasskeyBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || len(body.Credential) == 0 {
		passkeyError(w, http.StatusBadRequest, "The passkey's answer could not be read.")
		return
	}
	name, err := pihu.NormalizePasskeyName(body.Name)
	if err != nil {
		passkeyError(w, http.StatusBadRequest, pihu.ErrorMessage(err))
		return
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body.Credential)
	if err != nil {
		passkeyError(w, http.StatusBadRequest, "The passkey's answer could not be read.")
		return
	}
	c, ok, err := h.takeCeremony(r, parsed.Response.CollectedClientData.Challenge, s.digest, true)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if !ok || c.userID != s.user.ID {
		passkeyError(w, http.StatusBadRequest, "This passkey's challenge has expired. Try again.")
		return
	}
	rp, err := h.relyingParty(r)
	if err != nil {
		passkeyError(w, http.StatusBadRequest, passkeyOriginMessage)
		return
	}
	pu, err := h.passkeyUser(r, s.user)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	cred, err := rp.CreateCredential(pu, c.data, parsed)
	if err != nil {
		passkeyError(w, http.StatusBadRequest, "The passkey could not be verified. Try again.")
		return
	}
	stored, err := json.Marshal(cred)
	if err != nil || len(stored) > pihu.MaxCredentialLength {
		passkeyError(w, http.StatusBadRequest, "This passkey's key is too large to keep.")
		return
	}
	now := pihu.Timestamp(h.now())
	p := &pihu.Passkey{ID: pihu.NewID(pihu.PrefixPasskey), UserID: s.user.ID, Name: name, CredentialID: cred.ID, Credential: stored, Created: now}
	ev := pihu.NewUserEvent(pihu.ActionUserPasskeyAdded, s.user.ID, h.clientIP(r), s.user, now)
	switch err := h.store.CreatePasskey(r.Context(), s.account.ID, p, ev); {
	case pihu.ErrorCode(err) == pihu.EParameterInvalid:
		passkeyError(w, http.StatusBadRequest, pihu.ErrorMessage(err))
	case err != nil:
		h.internalError(w, r, err)
	default:
		passkeyJSON(w, http.StatusOK, map[string]string{"redirect": "/account?passkey=added#passkeys"})
	}
}

// renamePasskey names one of the person's passkeys (a form).
func (h *Handler) renamePasskey(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	name, err := pihu.NormalizePasskeyName(r.PostForm.Get("name"))
	if err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", pihu.ErrorMessage(err))
		return
	}
	ev := pihu.NewUserEvent(pihu.ActionUserPasskeyRenamed, s.user.ID, h.clientIP(r), s.user, h.now())
	switch err := h.store.RenamePasskey(r.Context(), s.account.ID, s.user.ID, r.PathValue("id"), name, ev); {
	case pihu.ErrorCode(err) == pihu.ENotFound:
		h.errorPage(w, r, s, http.StatusNotFound, "Passkey not found", "You have no such passkey.")
	case err != nil:
		h.internalError(w, r, err)
	default:
		http.Redirect(w, r, "/account?passkey=renamed#passkeys", http.StatusSeeOther)
	}
}

// removePasskey removes one of the person's passkeys (a form). A member of
// an account that requires two-factor sign-in keeps their last second
// factor.
func (h *Handler) removePasskey(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	if s.account.TwoFactorRequired && s.user.TwoFactor == nil && s.user.Passkeys <= 1 {
		h.errorPage(w, r, s, http.StatusBadRequest, "Passkey kept",
			"This account requires two-factor sign-in of every member, and this passkey is your only second factor: add another passkey or an authenticator app first.")
		return
	}
	ev := pihu.NewUserEvent(pihu.ActionUserPasskeyRemoved, s.user.ID, h.clientIP(r), s.user, h.now())
	switch err := h.store.DeletePasskey(r.Context(), s.account.ID, s.user.ID, r.PathValue("id"), ev); {
	case pihu.ErrorCode(err) == pihu.ENotFound:
		h.errorPage(w, r, s, http.StatusNotFound, "Passkey not found", "You have no such passkey.")
	case err != nil:
		h.internalError(w, r, err)
	default:
		http.Redirect(w, r, "/account?passkey=removed#passkeys", http.StatusSeeOther)
	}
}

// passkeyRequestOptions begins a sign-in with a passkey: the options
// navigator.credentials.get takes. On the page that asks a sign-in for its
// second factor, only that person's passkeys are asked for; elsewhere any
// passkey made here, whose person the authenticator then names.
func (h *Handler) passkeyRequestOptions(w http.ResponseWriter, r *http.Request) {
	if !h.allowChallenge(w, r) {
		return
	}
	rp, err := h.relyingParty(r)
	if err != nil {
		passkeyError(w, http.StatusBadRequest, passkeyOriginMessage)
		return
	}
	p, err := h.pendingSession(r)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	var (
		assertion *protocol.CredentialAssertion
		data      *webauthn.SessionData
		c         ceremony
	)
	if p != nil {
		pu, err := h.passkeyUser(r, p.user)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		if len(pu.creds) == 0 {
			passkeyError(w, http.StatusBadRequest, "You have no passkey: type your app's code or a recovery code.")
			return
		}
		assertion, data, err = rp.BeginLogin(pu, webauthn.WithUserVerification(protocol.VerificationPreferred))
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		c = ceremony{userID: p.user.ID, session: p.digest}
	} else {
		assertion, data, err = rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
		if err != nil {
			h.internalError(w, r, err)
			return
		}
	}
	c.data = *data
	if err := h.putCeremony(r, c); err != nil {
		h.internalError(w, r, err)
		return
	}
	passkeyJSON(w, http.StatusOK, assertion)
}

// passkeyLogin ends a sign-in with a passkey. It spends the sign-in budget
// of the client address, and of the email of the person the passkey is
// of, given back when the passkey verifies. A passkey that verifies signs
// its person in (user.login and user.passkey_used), ending a sign-in that
// waited for its second factor; one of a known person that does not
// records user.passkey_failed.
func (h *Handler) passkeyLogin(w http.ResponseWriter, r *http.Request) {
	raw, ok := readPasskeyBody(w, r)
	if !ok {
		return
	}
	spent, retry, ok := h.reserve(r, []string{h.addressLimitKey(r)})
	if !ok {
		passkeyTooMany(w, retry, "failed sign-ins")
		return
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(raw)
	if err != nil {
		passkeyError(w, http.StatusBadRequest, "The passkey's answer could not be read.")
		return
	}
	p, err := h.pendingSession(r)
	if err != nil {
		h.refund(r, spent)
		h.internalError(w, r, err)
		return
	}
	var digest []byte
	if p != nil {
		digest = p.digest
	}
	c, ok, err := h.takeCeremony(r, parsed.Response.CollectedClientData.Challenge, digest, false)
	if err != nil {
		h.refund(r, spent)
		h.internalError(w, r, err)
		return
	}
	if !ok {
		passkeyError(w, http.StatusBadRequest, "This sign-in's challenge has expired. Try again.")
		return
	}
	rp, err := h.relyingParty(r)
	if err != nil {
		passkeyError(w, http.StatusBadRequest, passkeyOriginMessage)
		return
	}
	key, err := h.store.PasskeyByCredentialID(r.Context(), parsed.RawID)
	if pihu.ErrorCode(err) == pihu.ENotFound || err == nil && (c.userID != "" && key.UserID != c.userID) {
		passkeyError(w, http.StatusUnauthorized, "This passkey is not one of this dashboard's, or it was removed.")
		return
	}
	if err != nil {
		h.refund(r, spent)
		h.internalError(w, r, err)
		return
	}
	var accountID string
	if p != nil {
		accountID = p.account.ID
	} else if accountID, err = h.signInAccount(r, key.UserID, pihu.SignInPasskey); err != nil {
		if e := pihu.ErrorCode(err); e == pihu.EInsufficientPermissions {
			passkeyError(w, http.StatusForbidden, pihu.ErrorMessage(err))
			return
		}
		h.refund(r, spent)
		h.internalError(w, r, err)
		return
	}
	member, err := h.store.User(r.Context(), accountID, key.UserID)
	if err != nil {
		h.refund(r, spent)
		h.internalError(w, r, err)
		return
	}
	spentEmail, retry, ok := h.reserve(r, []string{emailLimitKey(member.Email)})
	if !ok {
		passkeyTooMany(w, retry, "failed sign-ins")
		return
	}
	spent = append(spent, spentEmail...)
	pu, err := h.passkeyUser(r, member)
	if err != nil {
		h.refund(r, spent)
		h.internalError(w, r, err)
		return
	}
	ip := h.clientIP(r)
	cred, err := validatePasskey(rp, pu, c, parsed)
	if err != nil {
		failed := pihu.NewUserEvent(pihu.ActionUserPasskeyFailed, member.ID, ip, member, h.now())
		if err := h.store.RecordUserEvents(r.Context(), failed); err != nil {
			h.internalError(w, r, err)
			return
		}
		passkeyError(w, http.StatusUnauthorized, "The passkey could not be verified. Try again, or sign in with your password.")
		return
	}
	h.refund(r, spent)
	h.passkeySignedIn(w, r, p, key, member, cred)
}

// validatePasskey checks the authenticator's answer parsed to the
// ceremony c of pu's sign-in: with the person known (a second factor) or
// found by the passkey's user handle. A signature counter that went back
// fails too: the authenticator may be cloned.
func validatePasskey(rp *webauthn.WebAuthn, pu *passkeyUser, c ceremony, parsed *protocol.ParsedCredentialAssertionData) (*webauthn.Credential, error) {
	var cred *webauthn.Credential
	var err error
	if c.userID != "" {
		cred, err = rp.ValidateLogin(pu, c.data, parsed)
	} else {
		_, cred, err = rp.ValidatePasskeyLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
			if string(userHandle) != pu.u.ID {
				return nil, errors.New("the user handle is not the passkey's person")
			}
			return pu, nil
		}, c.data, parsed)
	}
	if err == nil && cred.Authenticator.CloneWarning {
		err = errors.New("the signature counter went back: the authenticator may be cloned")
	}
	return cred, err
}

// passkeySignedIn ends the sign-in of member with passkey key, which
// verified as cred: the passkey's counter is stored (user.passkey_used),
// a sign-in waiting for its second factor (p) ends, and member is signed
// in (user.login).
func (h *Handler) passkeySignedIn(w http.ResponseWriter, r *http.Request, p *session, key *pihu.Passkey, member *pihu.User, cred *webauthn.Credential) {
	stored, err := json.Marshal(cred)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	ip, now := h.clientIP(r), h.now()
	if err := h.store.UsePasskey(r.Context(), key.ID, stored, now, pihu.NewUserEvent(pihu.ActionUserPasskeyUsed, member.ID, ip, member, now)); err != nil {
		if pihu.ErrorCode(err) == pihu.ENotFound {
			passkeyError(w, http.StatusUnauthorized, "This passkey is not one of this dashboard's, or it was removed.")
			return
		}
		h.internalError(w, r, err)
		return
	}
	if p != nil {
		if err := h.store.DeleteSession(r.Context(), p.digest); err != nil {
			h.internalError(w, r, err)
			return
		}
	}
	if err := h.signIn(w, r, member, pihu.NewUserEvent(pihu.ActionUserLogin, member.ID, ip, member, now)); err != nil {
		h.internalError(w, r, err)
		return
	}
	passkeyJSON(w, http.StatusOK, map[string]string{"redirect": "/keys"})
}
