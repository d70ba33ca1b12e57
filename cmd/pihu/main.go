// Command pihu runs the Pihu.ai API authentication service and its tools.
//
//	pihu serve                         run the API (and the dashboard)
//	pihu accounts create --name NAME   create an account and its owner key
//	pihu accounts list                 list the accounts, with their key counts
//	pihu accounts recover ACCOUNT_ID   give an account a new owner key
//	pihu accounts sign-in|members      how the account's people sign in, through the API
//	pihu keys list|create|get|…        manage API keys through the API
//	pihu signing-keys list|rotate      the keys that sign access tokens
//	pihu migrate                       apply the database schema
//	pihu scan [--revoke] [PATH…]       find (and revoke) leaked keys in files
//	pihu completion bash|zsh|fish      print a shell completion script
//	pihu version [--json]              print the version, commit, date and Go version
//
// Every flag has a PIHU_* environment variable; a flag given wins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// exitUsage is the exit code for a command line that cannot be run.
const exitUsage = 2

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go exitOnSecondSignal(ctx, os.Stderr)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a command line that cannot be run: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `pihu: the Pihu.ai API authentication service

Usage:
  pihu serve [--addr ADDR] [--database URL] [--redis URL] [--rate-limit N/m]
             [--exact-limits] [--exact-credits] [--credit-lease-ttl D]
             [--failed-auth-limit N/m] [--issuer URL] [--log-format text|json]
             [--trusted-proxy-header NAME --trusted-proxies CIDR,…] [--cors-origins ORIGIN,…]
             [--gateway-routes FILE] [--ext-authz-addr ADDR]
             [--tls-cert FILE --tls-key FILE] [--metrics-addr ADDR]
             [--drain-delay D] [--drain-timeout D]
             [--access-log off|text|json] [--key-cache-size N] [--pprof ADDR]
             [--webhooks on|off] [--webhook-retry D] [--webhook-loopback allow|deny] [--dashboard-origin URL]
             [--sso-providers FILE]
             [--github-keys-url URL | --github-keys-file FILE]
             [--key-cache-ttl D] [--stale-if-error D] [--database-timeout D]
             [--require-database-at-start]
             [--request-log-retention D] [--request-log-max N]
             [--request-log-rate N] [--request-log-burst N]
  pihu accounts create --name NAME [--database URL] [--json]
  pihu accounts list [--database URL] [--json]
  pihu accounts recover ACCOUNT_ID [--database URL] [--json]   a new owner key
  pihu accounts sign-in [--api-url URL] [--json]   the account's sign-in settings (account:read)
  pihu accounts members [--api-url URL] [--json]   its members and how they sign in (member:read)
  pihu keys list [--limit N] [--starting-after ID | --ending-before ID] [--enabled true|false]
             [--name-prefix P] [--role ID] [--permission P] [--metadata NAME=VALUE …] [--identity ID] [--api-url URL] [--json]
  pihu keys create --name NAME --permission P [--permission P …] [--role ID …] [--expiration 30d]
             [--environment live|test] [--rate-limit N/m] [--ratelimit NAME=N/d …] [--allowed-ip IP|CIDR …]
             [--identity ID] [--api-url URL] [--json]
  pihu keys get ID [--api-url URL] [--json]
  pihu keys update ID [--name NAME] [--rate-limit N/m|default] [--ratelimit NAME=N/d …|none] [--api-url URL] [--json]
  pihu keys revoke ID [--cascade] [--api-url URL] [--json]
  pihu keys rotate ID [--expire-old-in now|24h] [--api-url URL] [--json]
  pihu keys disable|enable ID [--api-url URL] [--json]   refuse a key everywhere until enabled again
  pihu keys requests [ID] [--refused] [--status 4xx] [--code CODE] [--api-url URL] [--json]   the request log
  pihu permissions list|add|delete [NAME] [--description TEXT] [--force] [--server [--database URL]] [--api-url URL] [--json]
                                          the account's own permissions, or with --server every account's
  pihu roles list|get|create|update|delete [ID] [--name NAME] [--description TEXT] [--permission P …] [--force]
             [--limit N] [--starting-after ID | --ending-before ID] [--api-url URL] [--json]
                                          the account's roles: named sets of permissions keys are given
  pihu identities list|show|create|update|delete [ID] [--external-id ID] [--metadata JSON] [--rate-limit N/m|none]
             [--ratelimit NAME=N/d …|none] [--credits N|none] [--add-credits N] [--refill daily:N|monthly:N[:DAY]|none]
             [--revoke-keys] [--limit N] [--starting-after ID | --ending-before ID] [--api-url URL] [--json]
                                          your users or organisations, whose keys share rate limits and credits
  pihu signing-keys list|rotate [--database URL] [--json]   the keys that sign access tokens
  pihu migrate [--database URL]
  pihu scan [--revoke] [--json | --format text|json|sarif] [--allow-skipped] [--progress auto|always|never] [--api-url URL] [PATH…]
                                          find leaked keys (exit 1 found, 0 none, 2 error or files skipped)
  pihu completion bash|zsh|fish           print a shell completion script
  pihu version [--json]                   version, commit, build date, Go version

Every command answers --help with its flags. Every flag can be set by its
PIHU_* environment variable (--database: PIHU_DATABASE_URL, or PIHU_DATABASE;
see README.md); a flag given on the command line wins. The keys commands
read the key they send from PIHU_API_KEY only, never from a flag.
`

// run runs one command and returns the process exit code: 0 on success, 1
// on failure, 2 on a bad command line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	if wantsHelp(args[1:]) {
		// Help asked for is the answer, on standard output.
		stderr = stdout
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = runServe(ctx, rest, stderr)
	case "accounts":
		err = runAccounts(ctx, rest, stdout, stderr)
	case "keys":
		err = runKeys(ctx, rest, stdout, stderr)
	case "permissions":
		err = runPermissions(ctx, rest, stdout, stderr)
	case "roles":
		err = runRoles(ctx, rest, stdout, stderr)
	case "identities":
		err = runIdentities(ctx, rest, stdout, stderr)
	case "signing-keys":
		err = runSigningKeys(ctx, rest, stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, rest, stdout, stderr)
	case "scan":
		return runScan(ctx, rest, stdout, stderr)
	case "completion":
		err = runCompletion(rest, stdout)
	case "version", "--version":
		err = runVersion(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageError{fmt.Sprintf("unknown command %q; run \"pihu help\"", cmd)}
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "pihu:", err)
		return exitUsage
	default:
		fmt.Fprintln(stderr, "pihu:", err)
		return 1
	}
}

// wantsHelp reports whether args ask for help (-h, -help or --help before
// any "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}
