package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/client"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/sqlite"
)

const accountsUsage = `usage:
  pihu accounts create --name NAME [--database URL] [--json]
  pihu accounts list [--database URL] [--json]
  pihu accounts recover ACCOUNT_ID [--database URL] [--json]
  pihu accounts sign-in [--json]
  pihu accounts members [--json]

create, list and recover work on the database itself, with no API key:
run them where the database is (also while pihu serve runs on it).
sign-in and members read, through the API (--api-url URL, PIHU_API_URL),
the account of the key in PIHU_API_KEY: its sign-in settings
(account:read), and its members with how they sign in (member:read).`

// runAccounts runs `pihu accounts SUBCOMMAND`: the operator's commands,
// straight on the database.
func runAccounts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{accountsUsage}
	}
	sub, args := args[0], args[1:]
	var run func(ctx context.Context, fs *flag.FlagSet, args []string, o *accountsOutput) error
	switch sub {
	case "create":
		run = accountsCreate
	case "list":
		run = accountsList
	case "recover":
		run = accountsRecover
	case "sign-in", "members":
		return runAccountsAPI(ctx, sub, args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, accountsUsage)
		return nil
	default:
		return usageError{fmt.Sprintf("accounts: unknown subcommand %q\n%s", sub, accountsUsage)}
	}
	o := &accountsOutput{w: stdout, stderr: stderr}
	fs := newFlagSet("accounts "+sub, stderr)
	o.cfg.databaseFlag(fs)
	fs.BoolVar(&o.json, "json", false, "print JSON")
	return run(ctx, fs, args, o)
}

// accountsOutput is where an accounts command prints, and how.
type accountsOutput struct {
	w, stderr io.Writer
	json      bool
	cfg       Config
}

func accountsCreate(ctx context.Context, fs *flag.FlagSet, args []string, o *accountsOutput) error {
	var name string
	fs.StringVar(&name, "name", "", "the account's name (required)")
	if _, err := parseArgs(fs, args, 0, "--name NAME [--database URL] [--json]"); err != nil {
		return err
	}
	if name == "" {
		return usageError{"accounts create: --name is required"}
	}
	fresh := newDatabaseFile(o.cfg.Database)
	store, err := openStore(ctx, o.cfg.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	warnNewDatabase(o.stderr, fresh)
	a, k, secret, err := createAccount(ctx, store, name)
	if err != nil {
		return err
	}
	if o.json {
		return o.printOwner(a, k, secret)
	}
	fmt.Fprintf(o.w, "Created the account %q (%s).\nIts owner API key, shown only this once:\n\n%s\n\n", a.Name, a.ID, secret)
	return nil
}

// accountJSON is an account as the accounts commands print it with --json.
type accountJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// printOwner prints an account and its new owner key as JSON, the key's
// fields as the API shows a created key.
func (o *accountsOutput) printOwner(a *pihu.Account, k *pihu.Key, secret string) error {
	return encodeJSON(o.w, struct {
		Account accountJSON         `json:"account"`
		APIKey  pihuhttp.KeyCreated `json:"api_key"`
	}{accountJSON{a.ID, a.Name}, pihuhttp.NewKeyCreated(k, secret, k.Created)})
}

func accountsList(ctx context.Context, fs *flag.FlagSet, args []string, o *accountsOutput) error {
	if _, err := parseArgs(fs, args, 0, "[--database URL] [--json]"); err != nil {
		return err
	}
	store, err := openExistingStore(ctx, o.cfg.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	list, err := store.ListAccounts(ctx, time.Now())
	if err != nil {
		return err
	}
	if o.json {
		type item struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			Created string `json:"created"`
			Keys    int    `json:"keys"`
		}
		items := make([]item, len(list))
		for i, a := range list {
			items[i] = item{a.ID, a.Name, when(&a.Created, ""), a.Keys}
		}
		return encodeJSON(o.w, items)
	}
	t := newTable(o.w)
	t.row("ID", "NAME", "CREATED", "KEYS")
	for _, a := range list {
		t.row(a.ID, a.Name, when(&a.Created, ""), strconv.Itoa(a.Keys))
	}
	return t.flush()
}

func accountsRecover(ctx context.Context, fs *flag.FlagSet, args []string, o *accountsOutput) error {
	pos, err := parseArgs(fs, args, 1, "ACCOUNT_ID [--database URL] [--json]")
	if err != nil {
		return err
	}
	id := pos[0]
	store, err := openExistingStore(ctx, o.cfg.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	a, err := store.Account(ctx, id)
	if pihu.ErrorCode(err) == pihu.ENotFound {
		return fmt.Errorf("no account has the id %q in %s; \"pihu accounts list\" shows them", pihu.MaskSecrets(id), redactURL(o.cfg.Database))
	}
	if err != nil {
		return err
	}
	req := pihu.OwnerKeyRequest()
	req.Name = "Owner key (recovered)"
	k, secret, ev, err := newOwnerKey(a.ID, req, time.Now())
	if err != nil {
		return err
	}
	if err := store.CreateOwnerKey(ctx, k, ev); err != nil {
		return err
	}
	// The break-glass path of an account that requires single sign-on
	// and has lost its provider: its members may sign in with their
	// passwords again.
	ssoOff := a.SSORequired
	if ssoOff {
		off := pihu.NewAccountEvent(pihu.ActorOperator, "", a, []string{"sso_required"}, time.Now())
		if a, err = store.SetSSORequired(ctx, a.ID, false, off); err != nil {
			return err
		}
	}
	if o.json {
		return o.printOwner(a, k, secret)
	}
	fmt.Fprintf(o.w, "Created a new owner API key for the account %q (%s), shown only this once:\n\n%s\n\n"+
		"The account's other keys are unchanged: revoke those you no longer trust with this one.\n", a.Name, a.ID, secret)
	if ssoOff {
		fmt.Fprintf(o.w, "Sign-in through SSO only was on, and is now off: members sign in with their passwords again. An owner turns it back on, on the dashboard's Account page.\n")
	}
	return nil
}

// openExistingStore is openStore for commands that read what is there: a
// SQLite file that does not exist is an error, not a new empty database.
func openExistingStore(ctx context.Context, url string) (pihu.Store, error) {
	if path, ok := sqlite.ParseURL(url); ok {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			abs, _ := filepath.Abs(path)
			return nil, fmt.Errorf("there is no database at %s: give the one pihu serve uses with --database or PIHU_DATABASE_URL (a relative path is from the current folder)", abs)
		}
	}
	return openStore(ctx, url)
}

// createAccount creates an account and its owner key (every permission,
// live, no expiry) with its audit event, returning the key's secret.
func createAccount(ctx context.Context, store pihu.Store, name string) (*pihu.Account, *pihu.Key, string, error) {
	a, k, secret, ev, err := newAccount(name, time.Now())
	if err != nil {
		return nil, nil, "", err
	}
	if err := store.CreateAccount(ctx, a, k, ev); err != nil {
		return nil, nil, "", err
	}
	return a, k, secret, nil
}

// newAccount builds (but does not store) an account created at now, its
// owner key and the key's audit event. An invalid name is a usage error.
func newAccount(name string, now time.Time) (*pihu.Account, *pihu.Key, string, *pihu.AuditEvent, error) {
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: name, Created: pihu.Timestamp(now)}
	if err := a.Validate(); err != nil {
		return nil, nil, "", nil, usageError{pihu.ErrorMessage(err)}
	}
	k, secret, ev, err := newOwnerKey(a.ID, pihu.OwnerKeyRequest(), a.Created)
	if err != nil {
		return nil, nil, "", nil, err
	}
	return a, k, secret, ev, nil
}

// newOwnerKey builds an owner key of account accountID and its audit event:
// created by the operator, at the database, with no client address.
func newOwnerKey(accountID string, req pihu.KeyRequest, now time.Time) (*pihu.Key, string, *pihu.AuditEvent, error) {
	k, secret, err := pihu.NewKey(accountID, req, nil, now)
	if err != nil {
		return nil, "", nil, err
	}
	return k, secret, pihu.NewAuditEvent(pihu.ActionKeyCreated, pihu.ActorOperator, "", k, now), nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c Config
	fs := newFlagSet("migrate", stderr)
	c.databaseFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	fresh := newDatabaseFile(c.Database)
	store, err := openStore(ctx, c.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	warnNewDatabase(stderr, fresh)
	fmt.Fprintln(stdout, "The database schema is up to date.")
	return nil
}

// runAccountsAPI runs `pihu accounts sign-in` and `pihu accounts members`,
// which read the account of the key in PIHU_API_KEY through the API.
func runAccountsAPI(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	o := &output{w: stdout}
	fs := newFlagSet("accounts "+sub, stderr)
	o.cfg.apiFlags(fs)
	fs.BoolVar(&o.json, "json", false, "print the API's JSON")
	if _, err := parseArgs(fs, args, 0, "[--json]"); err != nil {
		return err
	}
	if sub == "sign-in" {
		return request(o, func(c *client.Client) (*client.AccountSignIn, error) { return c.GetAccountSignIn(ctx) }, func(a *client.AccountSignIn) error {
			required := "not required"
			if a.TwoFactorRequired {
				required = "required of every member"
			}
			sso := "no"
			if a.SSORequired {
				sso = "yes: password and passkey sign-in are off"
			}
			t := newTable(o.w)
			t.row("Two-factor sign-in", required)
			t.row("SSO only", sso)
			return t.flush()
		})
	}
	return request(o, func(c *client.Client) (*client.MemberList, error) { return c.ListMembers(ctx) }, func(list *client.MemberList) error {
		t := newTable(o.w)
		t.row("ID", "EMAIL", "ROLE", "SIGN-IN", "PASSKEYS", "JOINED")
		for _, m := range list.Data {
			methods := strings.Join(m.SignInMethods, ",")
			if methods == "" {
				methods = "-"
			}
			t.row(m.ID, m.Email, m.Role, methods, strconv.Itoa(m.Passkeys), when(&m.Joined, ""))
		}
		return t.flush()
	})
}
