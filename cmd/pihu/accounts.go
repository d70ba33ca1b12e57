package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

func runAccounts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{"usage: pihu accounts create --name NAME [--database URL] [--json]"}
	}
	var c Config
	var name string
	var asJSON bool
	fs := newFlagSet("accounts create", stderr)
	fs.StringVar(&name, "name", "", "the account's name (required)")
	fs.BoolVar(&asJSON, "json", false, "print the account and its key as JSON")
	c.databaseFlag(fs)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if name == "" {
		return usageError{"accounts create: --name is required"}
	}
	store, err := openStore(ctx, c.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	a, k, secret, err := createAccount(ctx, store, name)
	if err != nil {
		return err
	}
	if asJSON {
		type account struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		return json.NewEncoder(stdout).Encode(struct {
			Account account             `json:"account"`
			APIKey  pihuhttp.KeyCreated `json:"api_key"`
		}{account{a.ID, a.Name}, pihuhttp.NewKeyCreated(k, secret)})
	}
	fmt.Fprintf(stdout, "Created the account %q (%s).\nIts owner API key, shown only this once:\n\n%s\n\n", a.Name, a.ID, secret)
	return nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c Config
	fs := newFlagSet("migrate", stderr)
	c.databaseFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	store, err := openStore(ctx, c.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintln(stdout, "The database schema is up to date.")
	return nil
}
