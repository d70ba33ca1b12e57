package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pihu-ai/pihu/client"
)

const keysUsage = `usage:
  pihu keys list [--limit N] [--starting-after ID | --ending-before ID] [--enabled true|false]
                 [--name-prefix P] [--role ID] [--permission P] [--metadata NAME=VALUE …] [--json]
  pihu keys create --name NAME --permission P [--permission P …] [--role ID …] [--expiration 30d]
                   [--environment live|test] [--rate-limit N/m] [--ratelimit NAME=N/d …]
                   [--allowed-ip IP|CIDR …] [--json]
  pihu keys get ID [--json]
  pihu keys update ID [--name NAME] [--rate-limit N/m|default] [--ratelimit NAME=N/d … | --ratelimit none] [--json]
  pihu keys revoke ID [--cascade] [--json]
  pihu keys rotate ID [--expire-old-in now|24h] [--json]
  pihu keys disable ID [--json]   refused everywhere (disabled_api_key) until enabled
  pihu keys enable ID [--json]
  pihu keys requests [ID] [--refused] [--status 429|4xx] [--code CODE] [--since TIME] [--until TIME]
                     [--limit N] [--starting-after ID] [--json]   the request log of a key, or the account's

Each takes --api-url URL (PIHU_API_URL, default http://127.0.0.1:8080) and
sends the key in PIHU_API_KEY.`

// runKeys runs `pihu keys SUBCOMMAND`: the management API through the Go
// client, printed as an aligned table or, with --json, as the API's JSON.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{keysUsage}
	}
	sub, args := args[0], args[1:]
	var run func(ctx context.Context, fs *flag.FlagSet, args []string, out *output) error
	switch sub {
	case "list":
		run = keysList
	case "create":
		run = keysCreate
	case "get":
		run = keysGet
	case "update":
		run = keysUpdate
	case "revoke":
		run = keysRevoke
	case "rotate":
		run = keysRotate
	case "disable":
		run = keysSetEnabled(false)
	case "enable":
		run = keysSetEnabled(true)
	case "requests":
		run = keysRequests
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, keysUsage)
		return nil
	default:
		return usageError{fmt.Sprintf("keys: unknown subcommand %q\n%s", sub, keysUsage)}
	}

	out := &output{w: stdout}
	fs := newFlagSet("keys "+sub, stderr)
	out.cfg.apiFlags(fs)
	fs.BoolVar(&out.json, "json", false, "print the API's JSON")
	return run(ctx, fs, args, out)
}

// output is where a keys command prints, and how.
type output struct {
	w    io.Writer
	json bool
	cfg  Config
}

// client returns the API client of the parsed flags and the environment.
// A missing key is an error (exit 1), a bad URL a usage error (exit 2).
func (o *output) client() (*client.Client, error) {
	if o.cfg.APIKey == "" {
		return nil, errors.New("no API key: set PIHU_API_KEY to a key with the api_key permissions (pihu serve prints the owner key on its first start)")
	}
	c, err := client.New(client.Config{BaseURL: o.cfg.APIURL, APIKey: o.cfg.APIKey})
	if err != nil {
		return nil, usageError{fmt.Sprintf("--api-url %q: use an http:// or https:// URL, such as %s", o.cfg.APIURL, client.DefaultBaseURL)}
	}
	return c, nil
}

// apiFlags adds --api-url and reads PIHU_API_KEY.
func (c *Config) apiFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.APIURL, "api-url", env("PIHU_API_URL", client.DefaultBaseURL), "the API's address (PIHU_API_URL)")
	c.APIKey = os.Getenv("PIHU_API_KEY")
}

// parseArgs parses flags given before, between or after the positional
// arguments, and checks that there are exactly want of those, named in
// usage.
func parseArgs(fs *flag.FlagSet, args []string, want int, usage string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < want {
		// The usage starts with the names of the arguments: say which
		// one is missing.
		names := strings.Fields(usage)
		return nil, usageError{fmt.Sprintf("%s: %s is required\nusage: %s %s", strings.TrimPrefix(fs.Name(), "pihu "), names[len(pos)], fs.Name(), usage)}
	}
	if len(pos) != want {
		return nil, usageError{fmt.Sprintf("usage: %s %s", fs.Name(), usage)}
	}
	return pos, nil
}

// apiError rewords what the client returned as one line for a person. An
// API error keeps its code and request id; a refused key says where the
// key came from (never the key).
func apiError(err error) error {
	var e *client.Error
	if errors.As(err, &e) && e.Type == "authentication_error" {
		return fmt.Errorf("the API refused the key in PIHU_API_KEY: %w", err)
	}
	return err
}

// printJSON prints the API's answer as it came, safe for a terminal
// (terminalJSON: the same JSON value).
func (o *output) printJSON(raw []byte) error {
	raw = terminalJSON(raw)
	if _, err := o.w.Write(raw); err != nil {
		return err
	}
	if len(raw) > 0 && raw[len(raw)-1] != '\n' {
		_, err := io.WriteString(o.w, "\n")
		return err
	}
	return nil
}

// answer is an answer of the API that the CLI prints: as it came with
// --json, else as text.
type answer interface{ RawJSON() []byte }

// request makes one request of the API with the client of o (do), and
// prints its answer: as it came with --json, else with text. An error of
// the API is worded for the command line (apiError).
func request[T answer](o *output, do func(*client.Client) (T, error), text func(T) error) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	v, err := do(c)
	if err != nil {
		return apiError(err)
	}
	if o.json {
		return o.printJSON(v.RawJSON())
	}
	return text(v)
}

func keysList(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	var (
		p       client.KeyListParams
		enabled string
	)
	fs.IntVar(&p.Limit, "limit", 100, "how many keys to show, 1 to 100")
	fs.StringVar(&p.StartingAfter, "starting-after", "", "show the keys after this id (the last one of the previous page)")
	fs.StringVar(&p.EndingBefore, "ending-before", "", "show the keys before this id (the first one of the next page), to page back")
	fs.StringVar(&enabled, "enabled", "", "true: show the enabled keys only; false: the disabled ones")
	fs.StringVar(&p.NamePrefix, "name-prefix", "", "show the keys whose name starts with this (case-sensitive)")
	fs.StringVar(&p.Role, "role", "", "show the keys holding this role (role_…)")
	fs.StringVar(&p.Permission, "permission", "", "show the keys holding this permission (themselves, through a role or a wildcard)")
	fs.StringVar(&p.IdentityID, "identity", "", "show the keys of this identity only (idt_…)")
	var metadata permissionFlag
	fs.Var(&metadata, "metadata", "show the keys whose metadata has NAME=VALUE (a string); repeat it to require several")
	if _, err := parseArgs(fs, args, 0, "[--limit N] [--starting-after ID | --ending-before ID] [--enabled true|false] [--name-prefix P] [--role ID] [--permission P] [--metadata NAME=VALUE …] [--identity ID] [--json]"); err != nil {
		return err
	}
	for _, m := range metadata {
		name, value, ok := strings.Cut(m, "=")
		if !ok || name == "" {
			return usageError{"keys list: --metadata takes NAME=VALUE, such as --metadata plan=pro"}
		}
		if p.Metadata == nil {
			p.Metadata = make(map[string]string)
		}
		p.Metadata[name] = value
	}
	if p.StartingAfter != "" && p.EndingBefore != "" {
		return usageError{"keys list: give --starting-after or --ending-before, not both"}
	}
	switch enabled {
	case "":
	case "true", "false":
		p.Enabled = new(enabled == "true")
	default:
		return usageError{"keys list: --enabled must be true or false"}
	}
	return request(o, func(c *client.Client) (*client.KeyList, error) { return c.ListKeysWith(ctx, p) }, func(list *client.KeyList) error {
		t := newTable(o.w)
		t.row("ID", "NAME", "ENVIRONMENT", "STATE", "PERMISSIONS", "CREATED", "EXPIRES", "LAST USED", "HINT", "CREDITS")
		for _, k := range list.Data {
			hint, credits := k.Hint, "-"
			if hint == "" {
				hint = "- (imported)"
			}
			if k.Remaining != nil {
				credits = strconv.FormatInt(*k.Remaining, 10)
			}
			t.row(k.ID, k.Name, k.Environment, state(k.Enabled), strings.Join(k.Permissions, ","),
				when(&k.Created, ""), when(k.Expires, "never"), when(k.LastUsed, "never"), hint, credits)
		}
		if err := t.flush(); err != nil {
			return err
		}
		switch {
		case list.HasMore && p.EndingBefore != "":
			fmt.Fprintf(o.w, "\nNewer keys come before: pihu keys list --ending-before %s\n", cell(list.Data[0].ID))
		case list.HasMore:
			fmt.Fprintf(o.w, "\nMore keys follow: pihu keys list --starting-after %s\n", cell(list.Data[len(list.Data)-1].ID))
		}
		return nil
	})
}

// state is how the tables show whether a key is enabled.
func state(enabled bool) string {
	if enabled {
		return "enabled"
	}
	return "disabled"
}

// when formats an optional time as the API does, or none if it is nil.
func when(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

// permissionFlag collects a flag that may be given many times:
// --permission, --allowed-ip.
type permissionFlag []string

func (p *permissionFlag) String() string { return strings.Join(*p, ",") }
func (p *permissionFlag) Set(v string) error {
	*p = append(*p, v)
	return nil
}

// namedLimitFlag is --ratelimit, repeatable: NAME=LIMIT each, or none
// (set, with no limit) for none.
type namedLimitFlag struct {
	limits map[string]string
	none   bool
}

func (f *namedLimitFlag) String() string {
	if f == nil {
		return ""
	}
	var parts []string
	for n, l := range f.limits {
		parts = append(parts, n+"="+l)
	}
	return strings.Join(parts, ",")
}

func (f *namedLimitFlag) Set(v string) error {
	if v == "none" {
		f.none = true
		return nil
	}
	name, limit, ok := strings.Cut(v, "=")
	if !ok || name == "" || limit == "" {
		return fmt.Errorf("%q is not NAME=LIMIT, such as tokens=50000/d", v)
	}
	if f.limits == nil {
		f.limits = map[string]string{}
	}
	f.limits[name] = limit
	return nil
}

const namedLimitUsage = "a named rate limit NAME=LIMIT, spent by name with a cost (verify's ratelimits, a gateway's ratelimit), such as tokens=50000/d (N/s, N/m, N/h or N/d); repeat for more"

func keysCreate(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	var (
		p                 client.KeyParams
		perms, ips, roles permissionFlag
		named             namedLimitFlag
	)
	fs.StringVar(&p.Name, "name", "", "the key's name (required)")
	fs.Var(&perms, "permission", "a permission to give, such as candidate:read (required unless --role; repeat for more)")
	fs.Var(&roles, "role", "the id of a role of the account to give, such as role_… (pihu roles list; repeat for more)")
	fs.StringVar(&p.Expiration, "expiration", "", "lifetime, such as 30d or 12h (default: never expires)")
	fs.StringVar(&p.Environment, "environment", "", "live or test (default: the calling key's)")
	fs.StringVar(&p.RateLimit, "rate-limit", "", "the key's own rate limit: N/s, N/m or N/h (default: the server's --rate-limit)")
	fs.Var(&named, "ratelimit", namedLimitUsage)
	fs.Var(&ips, "allowed-ip", "an address or CIDR range the key may be used from, such as 203.0.113.7 or 10.0.0.0/8 (repeat for more; default: anywhere)")
	fs.StringVar(&p.IdentityID, "identity", "", "the id of the identity the key is made for, whose rate limit it shares (pihu identities list)")
	const usage = "--name NAME --permission P [--permission P …] [--role ID …] [--expiration 30d] [--environment live|test] [--rate-limit N/m] [--ratelimit NAME=N/d …] [--allowed-ip IP|CIDR …] [--identity ID] [--json]"
	if _, err := parseArgs(fs, args, 0, usage); err != nil {
		return err
	}
	switch {
	case p.Name == "":
		return usageError{"keys create: --name is required\nusage: pihu keys create " + usage}
	case len(perms) == 0 && len(roles) == 0:
		return usageError{"keys create: --permission is required, unless --role gives the key a role (repeat it for each permission, such as --permission candidate:read)\nusage: pihu keys create " + usage}
	}
	p.Permissions, p.Roles = perms, roles
	p.AllowedIPs, p.RateLimits = ips, named.limits
	return request(o, func(c *client.Client) (*client.CreatedKey, error) { return c.CreateKey(ctx, p) }, func(k *client.CreatedKey) error {
		fmt.Fprintf(o.w, "Created the API key %q (%s). Its secret, shown only this once:\n\n%s\n\n", k.Name, cell(k.ID), cell(k.Key))
		return o.createdTable(k)
	})
}

// createdTable prints a new key's fields, but not its secret, one a line.
func (o *output) createdTable(k *client.CreatedKey) error {
	t := newTable(o.w)
	t.row("ID", k.ID)
	t.row("Name", k.Name)
	t.row("Environment", k.Environment)
	t.row("Permissions", strings.Join(k.Permissions, ", "))
	if len(k.Roles) > 0 {
		t.row("Roles", strings.Join(k.Roles, ", "))
	}
	if k.IdentityID != nil {
		t.row("Identity", *k.IdentityID)
	}
	t.row("Created", when(&k.Created, ""))
	t.row("Expires", when(k.Expires, "never"))
	if k.RateLimit != nil {
		t.row("Rate limit", *k.RateLimit)
	}
	if len(k.RateLimits) > 0 {
		t.row("Named limits", namedLimits(k.RateLimits))
	}
	if k.AllowedIPs != nil {
		t.row("Allowed IPs", strings.Join(k.AllowedIPs, ", "))
	}
	if k.RotatedFrom != "" {
		t.row("Rotated from", k.RotatedFrom)
	}
	extrasTable(t, &k.KeyExtras)
	return t.flush()
}

// extrasTable adds the lines of what a key carries besides its rights, for
// a key that has any: credits, their refill, metadata, the import mark.
func extrasTable(t *table, x *client.KeyExtras) {
	if x.Remaining != nil {
		t.row("Credits", fmt.Sprintf("%d left", *x.Remaining))
	}
	if r := x.Refill; r != nil {
		every := "every day"
		if r.Interval == client.RefillMonthly {
			every = fmt.Sprintf("on day %d of every month", r.Day)
		}
		t.row("Refill", fmt.Sprintf("to %d %s, next %s", r.Amount, every, when(x.NextRefill, "never")))
	}
	if m := x.Metadata; len(m) > 0 && string(m) != "null" {
		t.row("Metadata", string(m))
	}
	if x.Imported {
		t.row("Imported", "yes (by the hash of its secret)")
	}
}

// keyTable prints a key's fields one a line.
func (o *output) keyTable(k *client.Key) error {
	t := newTable(o.w)
	t.row("ID", k.ID)
	t.row("Name", k.Name)
	t.row("Environment", k.Environment)
	t.row("State", state(k.Enabled))
	t.row("Permissions", strings.Join(k.Permissions, ", "))
	if len(k.Roles) > 0 {
		t.row("Roles", strings.Join(k.Roles, ", "))
	}
	if k.IdentityID != nil {
		t.row("Identity", *k.IdentityID)
	}
	t.row("Created", when(&k.Created, ""))
	t.row("Expires", when(k.Expires, "never"))
	t.row("Last used", when(k.LastUsed, "never"))
	t.row("Hint", k.Hint)
	if k.RateLimit != nil {
		t.row("Rate limit", *k.RateLimit)
	}
	if len(k.RateLimits) > 0 {
		t.row("Named limits", namedLimits(k.RateLimits))
	}
	if k.AllowedIPs != nil {
		t.row("Allowed IPs", strings.Join(k.AllowedIPs, ", "))
	}
	if k.Revoked {
		t.row("Revoked", strconv.FormatBool(k.Revoked))
	}
	extrasTable(t, &k.KeyExtras)
	return t.flush()
}

func keysGet(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	pos, err := parseArgs(fs, args, 1, "ID [--json]")
	if err != nil {
		return err
	}
	return request(o, func(c *client.Client) (*client.Key, error) { return c.GetKey(ctx, pos[0]) }, o.keyTable)
}

func keysRevoke(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	var p client.RevokeParams
	fs.BoolVar(&p.Cascade, "cascade", false, "also revoke every key this key created, recursively")
	pos, err := parseArgs(fs, args, 1, "ID [--cascade] [--json]")
	if err != nil {
		return err
	}
	return request(o, func(c *client.Client) (*client.Key, error) { return c.RevokeKeyWith(ctx, pos[0], p) }, func(k *client.Key) error {
		fmt.Fprintf(o.w, "Revoked the API key %q (%s): it no longer works.\n", k.Name, cell(k.ID))
		if p.Cascade {
			fmt.Fprintf(o.w, "Revoked with it: %d keys it created, at any depth.\n", k.RevokedDescendants)
		}
		fmt.Fprintln(o.w)
		return o.keyTable(k)
	})
}

// keysSetEnabled is `pihu keys disable ID` (enabled false) or `pihu keys
// enable ID` (true): PATCH enabled.
func keysSetEnabled(enabled bool) func(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	return func(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
		pos, err := parseArgs(fs, args, 1, "ID [--json]")
		if err != nil {
			return err
		}
		return request(o, func(c *client.Client) (*client.Key, error) {
			return c.UpdateKey(ctx, pos[0], client.UpdateKeyParams{Enabled: &enabled})
		}, func(k *client.Key) error {
			if enabled {
				fmt.Fprintf(o.w, "Enabled the API key %q (%s): it works again.\n\n", k.Name, cell(k.ID))
			} else {
				fmt.Fprintf(o.w, "Disabled the API key %q (%s): it and its access tokens are refused (disabled_api_key) until pihu keys enable %s.\n\n",
					k.Name, cell(k.ID), cell(k.ID))
			}
			return o.keyTable(k)
		})
	}
}

// namedLimits is a key's or identity's named limits, by name:
// "images=10/m, tokens=50000/d".
func namedLimits(m map[string]string) string {
	names := slices.Sorted(maps.Keys(m))
	for i, n := range names {
		names[i] = n + "=" + m[n]
	}
	return strings.Join(names, ", ")
}

func keysUpdate(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	var (
		p     client.UpdateKeyParams
		limit string
		named namedLimitFlag
	)
	fs.StringVar(&p.Name, "name", "", "the key's new name")
	fs.StringVar(&limit, "rate-limit", "", "the key's own rate limit (N/s, N/m or N/h); default for the server's")
	fs.Var(&named, "ratelimit", namedLimitUsage+"; they replace the key's named limits, and none removes them all")
	const usage = "ID [--name NAME] [--rate-limit N/m|default] [--ratelimit NAME=N/d … | --ratelimit none] [--json]"
	pos, err := parseArgs(fs, args, 1, usage)
	if err != nil {
		return err
	}
	switch {
	case named.none && named.limits != nil:
		return usageError{"keys update: --ratelimit none removes every named limit; give it alone, or NAME=LIMIT ones\nusage: pihu keys update " + usage}
	case p.Name == "" && limit == "" && !named.none && named.limits == nil:
		return usageError{"keys update: give --name, --rate-limit or --ratelimit\nusage: pihu keys update " + usage}
	}
	if limit == "default" {
		p.DefaultRateLimit = true
	} else {
		p.RateLimit = limit
	}
	p.RateLimits, p.NoRateLimits = named.limits, named.none
	return request(o, func(c *client.Client) (*client.Key, error) { return c.UpdateKey(ctx, pos[0], p) }, func(k *client.Key) error {
		fmt.Fprintf(o.w, "Updated the API key %q (%s).\n\n", k.Name, cell(k.ID))
		return o.keyTable(k)
	})
}

func keysRotate(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	var p client.RotateParams
	fs.StringVar(&p.ExpireOldIn, "expire-old-in", "", "when the old key stops working: now (the default) or a lifetime such as 24h")
	pos, err := parseArgs(fs, args, 1, "ID [--expire-old-in now|24h] [--json]")
	if err != nil {
		return err
	}
	return request(o, func(c *client.Client) (*client.CreatedKey, error) { return c.RotateKey(ctx, pos[0], p) }, func(k *client.CreatedKey) error {
		old := "now"
		if p.ExpireOldIn != "" && p.ExpireOldIn != "now" {
			old = "in " + p.ExpireOldIn
		}
		fmt.Fprintf(o.w, "Rotated %s: the old key stops working %s. The new key %q (%s), shown only this once:\n\n%s\n\n",
			cell(k.RotatedFrom), cell(old), k.Name, cell(k.ID), cell(k.Key))
		return o.createdTable(k)
	})
}
