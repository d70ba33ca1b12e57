package http

import "github.com/pihu-ai/pihu/auth"

// HeaderCreditsRefill is the header of a 403 usage_exceeded that says when
// the key's credits next come back (RFC 3339), for a client to wait for it
// without parsing the message; absent for a key without a refill.
const HeaderCreditsRefill = auth.HeaderCreditsRefill
