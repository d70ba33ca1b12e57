package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// SignatureHeader is the header that carries a delivery's signature, as
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>": Stripe's
// scheme, so that its verification libraries' logic applies as it is.
const SignatureHeader = "Pihu-Signature"

// EventIDHeader carries the event's id, the same on every retry, for
// receivers to drop duplicates.
const EventIDHeader = "Pihu-Event-Id"

// Sign returns the Pihu-Signature header of body sent at t, signed with
// secret (the whole "whsec_…" string is the HMAC key), then with each of
// others: "t=<unix seconds>,v1=<by secret>,v1=<by others[0]>…". While a
// rolled secret's overlap lasts, deliveries carry a signature by the new
// secret and one by the old, and a receiver that checks either (each v1
// against its secret, as Stripe's libraries do) accepts them.
func Sign(secret string, t time.Time, body []byte, others ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	h := "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
	for _, o := range others {
		h += ",v1=" + hex.EncodeToString(mac(o, ts, body))
	}
	return h
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}
