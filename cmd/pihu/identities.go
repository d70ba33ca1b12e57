package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pihu-ai/pihu/client"
)

const identitiesUsage = `usage:
  pihu identities list [--external-id ID] [--limit N] [--starting-after ID | --ending-before ID] [--json]
  pihu identities show ID [--json]
  pihu identities create --external-id ID [--metadata JSON] [--rate-limit N/m] [--ratelimit NAME=N/d …] [--credits N [--refill daily:N|monthly:N[:DAY]]] [--json]
  pihu identities update ID [--external-id ID] [--metadata JSON|null] [--rate-limit N/m|none]
                            [--ratelimit NAME=N/d … | --ratelimit none] [--credits N|none | --add-credits N] [--refill daily:N|monthly:N[:DAY]|none] [--json]
  pihu identities delete ID [--revoke-keys] [--json]

Identities are your own users or organisations that keys are made for, in
the account and environment of the key in PIHU_API_KEY, through the API
(--api-url URL, PIHU_API_URL, default http://127.0.0.1:8080). All the keys
of an identity share its rate limit and its usage credits, on every
instance: --credits N gives them N requests in all (a key's own credits, if
it has some, are needed too), --refill sets them back to N every day at
00:00 UTC, or on DAY of every month (default 1). Make a key for one
with pihu keys create --identity ID; list its keys with pihu keys list
--identity ID. delete refuses an identity that active keys have, and says
how many; --revoke-keys revokes them with it.`

// runIdentities runs `pihu identities SUBCOMMAND`, as runRoles does.
func runIdentities(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{identitiesUsage}
	}
	sub, args := args[0], args[1:]
	var run func(ctx context.Context, fs *flag.FlagSet, args []string, out *output) error
	switch sub {
	case "list":
		run = identitiesList
	case "show", "get":
		run = identitiesShow
	case "create":
		run = identitiesCreate
	case "update":
		run = identitiesUpdate
	case "delete":
		run = identitiesDelete
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, identitiesUsage)
		return nil
	default:
		return usageError{fmt.Sprintf("identities: unknown subcommand %q\n%s", sub, identitiesUsage)}
	}
	out := &output{w: stdout}
	fs := newFlagSet("identities "+sub, stderr)
	out.cfg.apiFlags(fs)
	fs.BoolVar(&out.json, "json", false, "print the API's JSON")
	return run(ctx, fs, args, out)
}

func identitiesList(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	var p client.IdentityListParams
	fs.StringVar(&p.ExternalID, "external-id", "", "show the identity of this external id only")
	fs.IntVar(&p.Limit, "limit", 100, "how many identities to show, 1 to 100")
	fs.StringVar(&p.StartingAfter, "starting-after", "", "show the identities after this id (the last one of the previous page)")
	fs.StringVar(&p.EndingBefore, "ending-before", "", "show the identities before this id (the first one of the next page), to page back")
	if _, err := parseArgs(fs, args, 0, "[--external-id ID] [--limit N] [--starting-after ID | --ending-before ID] [--json]"); err != nil {
		return err
	}
	if p.StartingAfter != "" && p.EndingBefore != "" {
		return usageError{"identities list: give --starting-after or --ending-before, not both"}
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	list, err := c.ListIdentities(ctx, p)
	if err != nil {
		return apiError(err)
	}
	if o.json {
		return o.printJSON(list.RawJSON())
	}
	t := newTable(o.w)
	t.row("ID", "EXTERNAL ID", "ENVIRONMENT", "RATE LIMIT", "CREDITS", "UPDATED", "METADATA")
	for _, i := range list.Data {
		credits := "-"
		if i.Remaining != nil {
			credits = strconv.FormatInt(*i.Remaining, 10)
		}
		t.row(i.ID, i.ExternalID, i.Environment, deref(i.RateLimit, "-"), credits, when(&i.Updated, ""), metadata(i.Metadata))
	}
	if err := t.flush(); err != nil {
		return err
	}
	switch {
	case list.HasMore && p.EndingBefore != "":
		fmt.Fprintf(o.w, "\nNewer identities come before: pihu identities list --ending-before %s\n", cell(list.Data[0].ID))
	case list.HasMore:
		fmt.Fprintf(o.w, "\nMore identities follow: pihu identities list --starting-after %s\n", cell(list.Data[len(list.Data)-1].ID))
	}
	return nil
}

// metadata is a JSON object as the tables show it: "-" for none.
func metadata(m json.RawMessage) string {
	if len(m) == 0 || string(m) == "null" {
		return "-"
	}
	return string(m)
}

// identityTable prints an identity's fields one a line.
func (o *output) identityTable(i *client.CustomerIdentity) error {
	t := newTable(o.w)
	t.row("ID", i.ID)
	t.row("External ID", i.ExternalID)
	t.row("Environment", i.Environment)
	t.row("Rate limit", deref(i.RateLimit, "none (each key its own)"))
	if len(i.RateLimits) > 0 {
		t.row("Named limits", namedLimits(i.RateLimits))
	}
	if i.Remaining != nil {
		t.row("Credits", fmt.Sprintf("%d left, shared by its keys", *i.Remaining))
	} else {
		t.row("Credits", "not counted")
	}
	if r := i.Refill; r != nil {
		t.row("Refill", refillWords(r, i.NextRefill))
	}
	t.row("Metadata", metadata(i.Metadata))
	t.row("Created", when(&i.Created, ""))
	t.row("Updated", when(&i.Updated, ""))
	return t.flush()
}

func identitiesShow(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	pos, err := parseArgs(fs, args, 1, "ID [--json]")
	if err != nil {
		return err
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	i, err := c.GetIdentity(ctx, pos[0])
	if err != nil {
		return apiError(err)
	}
	if o.json {
		return o.printJSON(i.RawJSON())
	}
	return o.identityTable(i)
}

func identitiesCreate(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	var (
		p     client.IdentityParams
		meta  string
		named namedLimitFlag
	)
	fs.StringVar(&p.ExternalID, "external-id", "", "your own id of the user or organisation (required)")
	fs.StringVar(&meta, "metadata", "", `a JSON object about it, such as '{"plan":"pro"}'`)
	fs.StringVar(&p.RateLimit, "rate-limit", "", "the rate limit all its keys share: N/s, N/m or N/h (default: none)")
	fs.Var(&named, "ratelimit", namedLimitUsage+"; all its keys share it")
	credits := fs.String("credits", "", "the usage credits all its keys share (default: not counted)")
	refill := fs.String("refill", "", "how the credits come back: daily:N, or monthly:N[:DAY]")
	const usage = "--external-id ID [--metadata JSON] [--rate-limit N/m] [--ratelimit NAME=N/d …] [--credits N [--refill daily:N|monthly:N[:DAY]]] [--json]"
	if _, err := parseArgs(fs, args, 0, usage); err != nil {
		return err
	}
	if *credits != "" {
		n, err := creditsFlag("identities create", "--credits", *credits)
		if err != nil {
			return err
		}
		p.Remaining = &n
	}
	if *refill != "" {
		if p.Remaining == nil {
			return usageError{"identities create: --refill needs --credits, the credits its keys start with\nusage: pihu identities create " + usage}
		}
		r, err := refillFlag("identities create", *refill)
		if err != nil {
			return err
		}
		p.Refill = r
	}
	if p.ExternalID == "" {
		return usageError{"identities create: --external-id is required\nusage: pihu identities create " + usage}
	}
	if meta != "" {
		p.Metadata = json.RawMessage(meta)
	}
	p.RateLimits = named.limits
	c, err := o.client()
	if err != nil {
		return err
	}
	i, err := c.CreateIdentity(ctx, p)
	if err != nil {
		return apiError(err)
	}
	if o.json {
		return o.printJSON(i.RawJSON())
	}
	fmt.Fprintf(o.w, "Created the identity %q (%s): make keys for it with pihu keys create --identity %s.\n\n", i.ExternalID, cell(i.ID), cell(i.ID))
	return o.identityTable(i)
}

func identitiesUpdate(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	var (
		p           client.UpdateIdentityParams
		meta, limit string
		named       namedLimitFlag
	)
	fs.StringVar(&p.ExternalID, "external-id", "", "the identity's new external id")
	fs.StringVar(&meta, "metadata", "", "its new metadata, a JSON object; null for none")
	fs.StringVar(&limit, "rate-limit", "", "its new shared rate limit (N/s, N/m or N/h); none for none")
	fs.Var(&named, "ratelimit", namedLimitUsage+"; they replace its named limits, and none removes them all")
	credits := fs.String("credits", "", "sets the credits its keys share; none stops counting them")
	add := fs.String("add-credits", "", "adds to the credits its keys share")
	refill := fs.String("refill", "", "how the credits come back: daily:N, or monthly:N[:DAY]; none for never")
	const usage = "ID [--external-id ID] [--metadata JSON|null] [--rate-limit N/m|none] [--ratelimit NAME=N/d … | --ratelimit none] [--credits N|none | --add-credits N] [--refill daily:N|monthly:N[:DAY]|none] [--json]"
	pos, err := parseArgs(fs, args, 1, usage)
	if err != nil {
		return err
	}
	switch {
	case *credits != "" && *add != "":
		return usageError{"identities update: give --credits or --add-credits, not both\nusage: pihu identities update " + usage}
	case *credits == "none":
		p.StopCounting = true
	case *credits != "":
		n, err := creditsFlag("identities update", "--credits", *credits)
		if err != nil {
			return err
		}
		p.Remaining = &n
	case *add != "":
		n, err := creditsFlag("identities update", "--add-credits", *add)
		if err != nil {
			return err
		}
		p.Add = &n
	}
	switch *refill {
	case "":
	case "none":
		p.NoRefill = true
	default:
		r, err := refillFlag("identities update", *refill)
		if err != nil {
			return err
		}
		p.Refill = r
	}
	if meta != "" {
		p.Metadata = json.RawMessage(meta)
	}
	if limit == "none" {
		p.NoRateLimit = true
	} else {
		p.RateLimit = limit
	}
	p.RateLimits, p.NoRateLimits = named.limits, named.none
	if named.none && named.limits != nil {
		return usageError{"identities update: --ratelimit none removes every named limit; give it alone, or NAME=LIMIT ones\nusage: pihu identities update " + usage}
	}
	if p.ExternalID == "" && p.Metadata == nil && limit == "" && !named.none && named.limits == nil && *credits == "" && *add == "" && *refill == "" {
		return usageError{"identities update: give --external-id, --metadata, --rate-limit, --ratelimit, --credits, --add-credits or --refill\nusage: pihu identities update " + usage}
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	i, err := c.UpdateIdentity(ctx, pos[0], p)
	if err != nil {
		return apiError(err)
	}
	if o.json {
		return o.printJSON(i.RawJSON())
	}
	return o.identityTable(i)
}

func identitiesDelete(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	var revoke bool
	fs.BoolVar(&revoke, "revoke-keys", false, "delete it even though active keys have it, revoking them")
	pos, err := parseArgs(fs, args, 1, "ID [--revoke-keys] [--json]")
	if err != nil {
		return err
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	d, err := c.DeleteIdentity(ctx, pos[0], revoke)
	if err != nil {
		return apiError(err)
	}
	if o.json {
		return o.printJSON(d.RawJSON())
	}
	fmt.Fprintf(o.w, "Deleted the identity %q (%s).", d.ExternalID, cell(d.ID))
	switch {
	case d.RevokedKeys == 1:
		fmt.Fprint(o.w, " 1 key of it was revoked.")
	case d.RevokedKeys > 1:
		fmt.Fprintf(o.w, " %d keys of it were revoked.", d.RevokedKeys)
	}
	fmt.Fprintln(o.w)
	return nil
}

// creditsFlag parses a number of credits given as flag name to cmd.
func creditsFlag(cmd, name, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, usageError{fmt.Sprintf("%s: %s must be a whole number of credits, 0 or more, not %q", cmd, name, v)}
	}
	return n, nil
}

// refillFlag parses --refill: daily:N, or monthly:N[:DAY].
func refillFlag(cmd, v string) (*client.Refill, error) {
	bad := usageError{fmt.Sprintf("%s: --refill must be daily:N or monthly:N[:DAY] (N credits, DAY 1 to 31), not %q", cmd, v)}
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != client.RefillDaily && parts[0] != client.RefillMonthly ||
		parts[0] == client.RefillDaily && len(parts) == 3 {
		return nil, bad
	}
	n, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || n < 1 {
		return nil, bad
	}
	r := &client.Refill{Interval: parts[0], Amount: n}
	if len(parts) == 3 {
		day, err := strconv.Atoi(parts[2])
		if err != nil || day < 1 || day > 31 {
			return nil, bad
		}
		r.Day = day
	}
	return r, nil
}

// refillWords is a refill as the tables show it.
func refillWords(r *client.Refill, next *time.Time) string {
	every := "every day"
	if r.Interval == client.RefillMonthly {
		every = fmt.Sprintf("on day %d of every month", r.Day)
	}
	return fmt.Sprintf("to %d %s, next %s", r.Amount, every, when(next, "never"))
}
