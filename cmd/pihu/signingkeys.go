package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/pihu-ai/pihu"
)

const signingKeysUsage = `usage:
  pihu signing-keys list [--database URL] [--json]
  pihu signing-keys rotate [--database URL] [--json]

The keys that sign access tokens, in the database every instance shares.
rotate makes a new active key; the old one stays published in
/.well-known/jwks.json until every token it signed has expired. Servers
pick up the new key within a minute. No private key is ever printed.`

// runSigningKeys runs `pihu signing-keys SUBCOMMAND`: the operator's
// commands for the keys that sign access tokens, straight on the database.
func runSigningKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{signingKeysUsage}
	}
	sub, args := args[0], args[1:]
	var cfg Config
	var asJSON bool
	fs := newFlagSet("signing-keys "+sub, stderr)
	cfg.databaseFlag(fs)
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	switch sub {
	case "list", "rotate":
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, signingKeysUsage)
		return nil
	default:
		return usageError{fmt.Sprintf("signing-keys: unknown subcommand %q\n%s", sub, signingKeysUsage)}
	}
	if _, err := parseArgs(fs, args, 0, "[--database URL] [--json]"); err != nil {
		return err
	}
	store, err := openExistingStore(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	now := time.Now()
	if sub == "rotate" {
		next := pihu.NewSigningKey(now)
		retired, err := store.RotateSigningKey(ctx, next)
		if err != nil {
			return err
		}
		if asJSON {
			var old *signingKeyJSON
			if retired != nil {
				j := newSigningKeyJSON(retired, now)
				old = &j
			}
			return encodeJSON(stdout, struct {
				Active  signingKeyJSON  `json:"active"`
				Retired *signingKeyJSON `json:"retired"`
			}{newSigningKeyJSON(next, now), old})
		}
		fmt.Fprintf(stdout, "%s is the active signing key; servers use it within a minute.\n", next.ID)
		if retired != nil {
			fmt.Fprintf(stdout, "%s is retired: it stays published until %s, when every token it signed has expired.\n",
				retired.ID, when(publishedUntil(retired), ""))
		}
		return nil
	}
	keys, err := store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		items := make([]signingKeyJSON, len(keys))
		for i, k := range keys {
			items[i] = newSigningKeyJSON(k, now)
		}
		return encodeJSON(stdout, items)
	}
	t := newTable(stdout)
	t.row("KID", "ALGORITHM", "STATUS", "CREATED", "RETIRED", "PUBLISHED UNTIL")
	for _, k := range keys {
		j := newSigningKeyJSON(k, now)
		t.row(j.ID, j.Algorithm, j.Status, j.Created, deref(j.Retired, "-"), deref(j.PublishedUntil, "-"))
	}
	return t.flush()
}

// signingKeyJSON is a signing key as the commands print it: never its
// private part.
type signingKeyJSON struct {
	ID        string `json:"kid"`
	Algorithm string `json:"algorithm"`
	// Status is "active" (it signs), "published" (retired, still in the
	// JWKS) or "unpublished" (retired, no longer trusted).
	Status         string  `json:"status"`
	Created        string  `json:"created"`
	Retired        *string `json:"retired"`
	PublishedUntil *string `json:"published_until"`
}

func newSigningKeyJSON(k *pihu.SigningKey, now time.Time) signingKeyJSON {
	j := signingKeyJSON{ID: k.ID, Algorithm: k.Algorithm, Status: "active", Created: when(&k.Created, "")}
	if k.Retired != nil {
		r, until := when(k.Retired, ""), when(publishedUntil(k), "")
		j.Retired, j.PublishedUntil = &r, &until
		j.Status = "published"
		if !k.Published(now) {
			j.Status = "unpublished"
		}
	}
	return j
}

// publishedUntil is when a retired key leaves the JWKS; nil for the
// active key.
func publishedUntil(k *pihu.SigningKey) *time.Time {
	if k.Retired == nil {
		return nil
	}
	t := k.Retired.Add(pihu.SigningKeyRetention)
	return &t
}

func deref(s *string, none string) string {
	if s == nil {
		return none
	}
	return *s
}
