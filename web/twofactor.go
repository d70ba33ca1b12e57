package web

import (
	"bytes"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/png"
	"net/http"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/pihu-ai/pihu"
)

// Two-factor sign-in with an authenticator app (TOTP, RFC 6238: 6 digits,
// 30 s steps, SHA-1, which every app reads). A code is accepted for the
// step it was made in and the one before and after (clocks drift), once:
// the store keeps the last step used, and refuses it and older ones
// (pihu.UserStore.UseTOTPStep). Every code checked, at sign-in as at
// enrolment and removal, spends the sign-in budget of the client address
// and of the person's email, as a password does, and gets it back when it
// was right.

// totpPeriod is the length of a TOTP time step.
const totpPeriod = 30

// totpIssuer names pihu in the authenticator app.
const totpIssuer = "Pihu"

// totpSecretBytes is the size of a new TOTP secret: 160 bits, as RFC
// 4226 recommends.
const totpSecretBytes = 20

// pendingLifetime is how long a sign-in waits for its second factor after
// the password was right.
const pendingLifetime = 10 * time.Minute

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// checkTOTP reports whether code is secret's code at the time now, or at
// the step before or after it, and the step it is the code of.
func checkTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != 6 {
		return 0, false
	}
	for _, d := range []int64{0, -1, 1} {
		at := now.Add(time.Duration(d*totpPeriod) * time.Second)
		want, err := totp.GenerateCodeCustom(secret, at, totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return at.Unix() / totpPeriod, true
		}
	}
	return 0, false
}

// parseTOTPSecret checks a secret posted back by the enrolment form: the
// base32 of totpSecretBytes bytes (spaces and case as typed), and returns
// it as the store keeps it.
func parseTOTPSecret(s string) (string, bool) {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil || len(raw) != totpSecretBytes {
		return "", false
	}
	return s, true
}

// groups is s in groups of four characters, as the page shows a secret for
// typing it by hand.
func groups(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// twoFactorData is the two-factor page: the enrolment form (a new secret,
// its QR code and the form asking for the first code), or, once enrolled,
// what there is and the form that removes it.
type twoFactorData struct {
	Form *form
	// Secret is the secret being enrolled, in groups of four; QR the
	// data: URI of its QR code (a PNG made here, which html/template is
	// told is safe: it holds nothing but the image's base64).
	Secret string
	QR     template.URL
	// Enrolled is when the person enrolled; nil while they have not.
	Enrolled *time.Time
	// CodesLeft is how many recovery codes the person has not used.
	CodesLeft int
	// Required says that the account requires two-factor sign-in.
	Required bool
}

// twoFactorPage shows the enrolment form, with a new secret, to a person
// without a second factor, and the status and removal form to one with.
func (h *Handler) twoFactorPage(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(nil)
	f.Values.Set("removed", r.URL.Query().Get("removed"))
	h.renderTwoFactor(w, r, s, http.StatusOK, f, "")
}

// renderTwoFactor renders the two-factor page; secret is the one being
// enrolled ("" for a new one).
func (h *Handler) renderTwoFactor(w http.ResponseWriter, r *http.Request, s *session, status int, f *form, secret string) {
	d := twoFactorData{Form: f, Enrolled: s.user.TwoFactor, Required: s.account.TwoFactorRequired}
	if s.user.TwoFactor != nil {
		n, err := h.store.RecoveryCodesLeft(r.Context(), s.user.ID)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		d.CodesLeft = n
	} else {
		key, err := h.totpKey(s.user.Email, secret)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		img, err := key.Image(240, 240)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			h.internalError(w, r, err)
			return
		}
		d.Secret, d.QR = groups(key.Secret()), template.URL("data:image/png;base64,"+base64.StdEncoding.EncodeToString(b.Bytes()))
	}
	h.render(w, r, status, "two_factor", view{Title: "Two-factor sign-in", Me: s.user, Account: s.account, Nav: "account", Data: d})
}

// totpKey is the key of secret for the person with email: a new random
// one if secret is "".
func (h *Handler) totpKey(email, secret string) (*otp.Key, error) {
	if secret == "" {
		return totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: email, SecretSize: totpSecretBytes, Period: totpPeriod})
	}
	raw, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	return totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: email, Secret: raw, Period: totpPeriod})
}

// enrolTwoFactor confirms an enrolment with the app's first code: the
// secret rides in the form (the page showed it already, to this session
// only), so that no server keeps a half-made enrolment. The secret is
// stored with the step of that code, which therefore cannot sign in, and
// ten new recovery codes are shown once.
func (h *Handler) enrolTwoFactor(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	if s.user.TwoFactor != nil {
		http.Redirect(w, r, "/account/two-factor", http.StatusSeeOther)
		return
	}
	secret, ok := parseTOTPSecret(r.PostForm.Get("secret"))
	if !ok {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form's secret is not one this page made. Open the two-factor page again.")
		return
	}
	f := newForm(nil)
	spent, retry, ok := h.reserve(r, []string{h.addressLimitKey(r), emailLimitKey(s.user.Email)})
	if !ok {
		w.Header().Set("Retry-After", fmt.Sprint(retry))
		f.Errors["code"] = fmt.Sprintf("Too many wrong codes. Try again in %d seconds.", retry)
		h.renderTwoFactor(w, r, s, http.StatusTooManyRequests, f, secret)
		return
	}
	now := h.now()
	step, ok := checkTOTP(secret, r.PostForm.Get("code"), now)
	if !ok {
		f.Errors["code"] = "This is not the code your app shows. Type the 6 digits it shows now."
		h.renderTwoFactor(w, r, s, http.StatusBadRequest, f, secret)
		return
	}
	h.refund(r, spent)
	codes := pihu.NewRecoveryCodes()
	digests := make([][]byte, len(codes))
	for i, c := range codes {
		digests[i] = pihu.RecoveryCodeDigest(s.user.ID, c)
	}
	ev := pihu.NewUserEvent(pihu.ActionUserTwoFactorEnabled, s.user.ID, h.clientIP(r), s.user, now)
	if err := h.store.EnableTwoFactor(r.Context(), s.account.ID, s.user.ID, secret, step, digests, now, ev); err != nil {
		h.internalError(w, r, err)
		return
	}
	id := h.once.put(s.digest, s.user.ID, codes)
	http.Redirect(w, r, "/account/two-factor/recovery-codes/"+id, http.StatusSeeOther)
}

// recoveryCodesPage shows the recovery codes of an enrolment, once.
func (h *Handler) recoveryCodesPage(w http.ResponseWriter, r *http.Request, s *session) {
	data, ok := h.once.take(s.digest, s.user.ID, r.PathValue("view"))
	if !ok {
		h.shownOnce(w, r, s, "account", shownOnceData{
			What:    "Recovery codes",
			Message: "Recovery codes are shown once, right after you add an authenticator app. If you did not keep them, remove the app from your sign-in and add it again for new ones.",
			Link:    "/account/two-factor", LinkLabel: "Two-factor sign-in",
			Back: "/account", BackLabel: "Your account",
		})
		return
	}
	h.render(w, r, http.StatusOK, "recovery_codes", view{Title: "Your recovery codes", Me: s.user, Account: s.account, Nav: "account", Data: data})
}

// disableTwoFactor removes the person's authenticator app and recovery
// codes, given their password or a code (the app's or a recovery code),
// checked under the sign-in budget. A member of an account that requires
// two-factor sign-in keeps it, unless a passkey is their second factor.
func (h *Handler) disableTwoFactor(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	if s.user.TwoFactor == nil {
		http.Redirect(w, r, "/account/two-factor", http.StatusSeeOther)
		return
	}
	f := newForm(nil)
	if s.account.TwoFactorRequired && s.user.Passkeys == 0 {
		f.Errors["confirm"] = "This account requires two-factor sign-in of every member, so you keep yours. An owner can change that on the Account page."
		h.renderTwoFactor(w, r, s, http.StatusBadRequest, f, "")
		return
	}
	spent, retry, ok := h.reserve(r, []string{h.addressLimitKey(r), emailLimitKey(s.user.Email)})
	if !ok {
		w.Header().Set("Retry-After", fmt.Sprint(retry))
		f.Errors["confirm"] = fmt.Sprintf("Too many wrong attempts. Try again in %d seconds.", retry)
		h.renderTwoFactor(w, r, s, http.StatusTooManyRequests, f, "")
		return
	}
	right, err := h.confirmed(r, s.user, r.PostForm.Get("password"), r.PostForm.Get("code"))
	if err != nil {
		h.refund(r, spent)
		if err == errBusy || r.Context().Err() != nil {
			w.Header().Set("Retry-After", "1")
			f.Errors["confirm"] = "Too many passwords are being checked at this moment. Try again in a second."
			h.renderTwoFactor(w, r, s, http.StatusServiceUnavailable, f, "")
			return
		}
		h.internalError(w, r, err)
		return
	}
	if !right {
		f.Errors["confirm"] = "Give your password, or a code from your app or a recovery code, to remove two-factor sign-in."
		h.renderTwoFactor(w, r, s, http.StatusBadRequest, f, "")
		return
	}
	h.refund(r, spent)
	ev := pihu.NewUserEvent(pihu.ActionUserTwoFactorDisabled, s.user.ID, h.clientIP(r), s.user, h.now())
	if err := h.store.DisableTwoFactor(r.Context(), s.account.ID, s.user.ID, ev); err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/two-factor?removed=1", http.StatusSeeOther)
}

// confirmed reports whether password is u's password, or, if password is
// "", code is a code of u's app (used up, so it works once) or one of u's
// recovery codes (used up too).
func (h *Handler) confirmed(r *http.Request, u *pihu.User, password, code string) (bool, error) {
	if password != "" {
		return h.passwords.check(r.Context(), password, u.PasswordHash)
	}
	return h.secondFactor(r, u, code)
}

// secondFactor checks code, a code of u's app or one of u's recovery
// codes, and uses it up (each works once), recording the events given with
// it. A code of the app that is right but used already is refused as a
// wrong one is, with reused true.
func (h *Handler) secondFactor(r *http.Request, u *pihu.User, code string, events ...*pihu.AuditEvent) (bool, error) {
	ok, _, err := h.useSecondFactor(r, u, code, events...)
	return ok, err
}

// useSecondFactor is secondFactor, saying also whether a right code of the
// app was refused for being used already; a recovery code used records
// user.recovery_code_used beside the events given.
func (h *Handler) useSecondFactor(r *http.Request, u *pihu.User, code string, events ...*pihu.AuditEvent) (ok, reused bool, err error) {
	if u.TwoFactor == nil || u.TOTPSecret == "" {
		return false, false, nil
	}
	now := h.now()
	if step, right := checkTOTP(u.TOTPSecret, code, now); right {
		ok, err := h.store.UseTOTPStep(r.Context(), u.ID, step, events...)
		return ok, !ok, err
	}
	if _, valid := pihu.NormalizeRecoveryCode(code); !valid {
		return false, false, nil
	}
	used := pihu.NewUserEvent(pihu.ActionUserRecoveryCodeUsed, u.ID, h.clientIP(r), u, now)
	ok, err = h.store.UseRecoveryCode(r.Context(), u.ID, pihu.RecoveryCodeDigest(u.ID, code), now, append(events, used)...)
	return ok, false, err
}

// factorsForm is the form of the page that asks u's sign-in for its
// second factor: it offers the code only to a person with an
// authenticator app ("totp"), and the passkey only to one with passkeys
// ("passkey").
func factorsForm(u *pihu.User) *form {
	f := newForm(nil)
	if u.TwoFactor != nil {
		f.Values.Set("totp", "1")
	}
	if u.Passkeys > 0 {
		f.Values.Set("passkey", "1")
	}
	return f
}

// twoFactorLoginPage asks a sign-in whose password was right for its
// second factor.
func (h *Handler) twoFactorLoginPage(w http.ResponseWriter, r *http.Request) {
	p, err := h.pendingSession(r)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if p == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login_two_factor", view{Title: "Two-factor sign-in", Data: factorsForm(p.user)})
}

// twoFactorLogin ends a sign-in with its second factor: the code of the
// app, or a recovery code. It spends the sign-in budget of the address
// and the email as a password does (given back when right). A right code
// ends the waiting session and starts a new one, with a new cookie, and
// records user.login; a wrong one records user.login_failed.
func (h *Handler) twoFactorLogin(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, nil, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	p, err := h.pendingSession(r)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if p == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	f := factorsForm(p.user)
	v := view{Title: "Two-factor sign-in", Data: f}
	u := p.user
	spent, retry, ok := h.reserve(r, []string{h.addressLimitKey(r), emailLimitKey(u.Email)})
	if !ok {
		h.tooMany(w, r, "login_two_factor", v, f, "Too many wrong codes. Try again in %d seconds.", retry)
		return
	}
	right, reused, err := h.useSecondFactor(r, u, r.PostForm.Get("code"))
	if err != nil {
		h.refund(r, spent)
		h.internalError(w, r, err)
		return
	}
	ip := h.clientIP(r)
	if !right {
		failed := pihu.NewUserEvent(pihu.ActionUserLoginFailed, u.ID, ip, u, h.now())
		if err := h.store.RecordUserEvents(r.Context(), failed); err != nil {
			h.internalError(w, r, err)
			return
		}
		f.Message = "This code is not right. Type the 6 digits your app shows now, or one of your recovery codes."
		if reused {
			f.Message = "This code was used already. Wait for your app to show the next one."
		}
		h.render(w, r, http.StatusUnauthorized, "login_two_factor", v)
		return
	}
	h.refund(r, spent)
	if err := h.store.DeleteSession(r.Context(), p.digest); err != nil {
		h.internalError(w, r, err)
		return
	}
	if err := h.signIn(w, r, u, pihu.NewUserEvent(pihu.ActionUserLogin, u.ID, ip, u, h.now())); err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/keys", http.StatusSeeOther)
}
