// Command pihu runs the Pihu.ai API authentication service and its tools.
//
//	pihu serve                         run the API (and the dashboard)
//	pihu accounts create --name NAME   create an account and its owner key
//	pihu accounts list                 list the accounts, with their key counts
//	pihu accounts recover ACCOUNT_ID   give an account a new owner key
//	pihu keys list|create|get|…        manage API keys through the API
//	pihu signing-keys list|rotate      the keys that sign access tokens
//	pihu migrate                       apply the database schema
//	pihu scan [--revoke] [PATH…]       find (and revoke) leaked keys in files
//	pihu version                       print the version
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
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…"; without
// it the module version or VCS revision is used.
var version = ""

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
             [--failed-auth-limit N/m] [--issuer URL]
             [--trusted-proxy-header NAME --trusted-proxies CIDR,…]
  pihu accounts create --name NAME [--database URL] [--json]
  pihu accounts list [--database URL] [--json]
  pihu accounts recover ACCOUNT_ID [--database URL] [--json]   a new owner key
  pihu keys list|create|get|revoke|rotate …  (run "pihu keys help"; uses PIHU_API_KEY, PIHU_API_URL)
  pihu signing-keys list|rotate [--database URL] [--json]   the keys that sign access tokens
  pihu migrate [--database URL]
  pihu scan [--revoke] [--json] [--allow-skipped] [PATH…]
                                          find leaked keys (exit 1 found, 0 none, 2 error or files skipped)
  pihu version

Every flag can be set by its PIHU_* environment variable (see README.md);
a flag given on the command line wins.
`

// run runs one command and returns the process exit code: 0 on success, 1
// on failure, 2 on a bad command line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = runServe(ctx, rest, stderr)
	case "accounts":
		err = runAccounts(ctx, rest, stdout, stderr)
	case "keys":
		err = runKeys(ctx, rest, stdout, stderr)
	case "signing-keys":
		err = runSigningKeys(ctx, rest, stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, rest, stdout, stderr)
	case "scan":
		return runScan(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "pihu", buildVersion())
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

func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
