package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/client"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

const permissionsUsage = `usage:
  pihu permissions list [--json]
  pihu permissions add NAME [--description TEXT] [--json]
  pihu permissions delete NAME [--force] [--json]
  pihu permissions list|add|delete --server [--database URL] …

Without --server they work on the account of the key in PIHU_API_KEY,
through the API (--api-url URL, PIHU_API_URL, default
http://127.0.0.1:8080). With --server they work on the server-wide
permissions, offered to every account, straight on the database: run them
where the database is (also while pihu serve runs on it).

NAME is "resource:action", such as billing:read. delete refuses a
permission that keys hold, and says how many; --force deletes it anyway
(the keys keep it until changed).`

// permissionsCmd is one permissions command, with where it prints and
// what it works on.
type permissionsCmd struct {
	output
	server      bool
	description string
	force       bool
	stderr      io.Writer
}

// runPermissions runs `pihu permissions SUBCOMMAND`: the catalogue of
// permissions keys may hold besides the built-in ones.
func runPermissions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{permissionsUsage}
	}
	sub, args := args[0], args[1:]
	var (
		run   func(ctx context.Context, name string, c *permissionsCmd) error
		usage string
		want  = 1
	)
	c := &permissionsCmd{output: output{w: stdout}, stderr: stderr}
	fs := newFlagSet("permissions "+sub, stderr)
	switch sub {
	case "list":
		run, usage, want = permissionsList, "[--server] [--json]", 0
	case "add":
		run, usage = permissionsAdd, "NAME [--description TEXT] [--server] [--json]"
		fs.StringVar(&c.description, "description", "", "what the permission allows, for the people who give it")
	case "delete":
		run, usage = permissionsDelete, "NAME [--force] [--server] [--json]"
		fs.BoolVar(&c.force, "force", false, "delete it even though keys hold it (they keep it until changed)")
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, permissionsUsage)
		return nil
	default:
		return usageError{fmt.Sprintf("permissions: unknown subcommand %q\n%s", sub, permissionsUsage)}
	}
	c.cfg.apiFlags(fs)
	c.cfg.databaseFlag(fs)
	fs.BoolVar(&c.server, "server", false, "the server-wide permissions, on the database (--database) rather than through the API")
	fs.BoolVar(&c.json, "json", false, "print JSON, as the API shows it")
	pos, err := parseArgs(fs, args, want, usage)
	if err != nil {
		return err
	}
	name := ""
	if want == 1 {
		name = pos[0]
	}
	return run(ctx, name, c)
}

// store opens the database of --server commands.
func (c *permissionsCmd) store(ctx context.Context) (pihu.Store, error) {
	return openExistingStore(ctx, c.cfg.Database)
}

func permissionsList(ctx context.Context, _ string, c *permissionsCmd) error {
	if !c.server {
		api, err := c.client()
		if err != nil {
			return err
		}
		list, err := api.ListPermissions(ctx)
		if err != nil {
			return apiError(err)
		}
		if c.json {
			return c.printJSON(list.RawJSON())
		}
		t := newTable(c.w)
		t.row("NAME", "SOURCE", "CREATED", "DESCRIPTION")
		for _, p := range list.Data {
			t.row(p.Name, p.Source, when(p.Created, "-"), p.Description)
		}
		return t.flush()
	}
	store, err := c.store(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	ps, err := store.DefinedPermissions(ctx, "")
	if err != nil {
		return err
	}
	if c.json {
		out := pihuhttp.PermissionList{Data: make([]pihuhttp.PermissionItem, len(ps))}
		for i, p := range ps {
			out.Data[i] = pihuhttp.NewPermissionItem(p)
		}
		return encodeJSON(c.w, out)
	}
	t := newTable(c.w)
	t.row("NAME", "CREATED", "DESCRIPTION")
	for _, p := range ps {
		t.row(string(p.Name), when(&p.Created, ""), p.Description)
	}
	return t.flush()
}

func permissionsAdd(ctx context.Context, name string, c *permissionsCmd) error {
	if !c.server {
		api, err := c.client()
		if err != nil {
			return err
		}
		p, err := api.CreatePermission(ctx, client.PermissionParams{Name: name, Description: c.description})
		if err != nil {
			return apiError(err)
		}
		if c.json {
			return c.printJSON(p.RawJSON())
		}
		fmt.Fprintf(c.w, "Defined %s for this account: keys may now be given it.\n", p.Name)
		return nil
	}
	p, err := pihu.NewDefinedPermission("", pihu.Permission(name), c.description, time.Now())
	if err != nil {
		return usageError{pihu.ErrorMessage(err)}
	}
	store, err := c.store(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.DefinePermission(ctx, p); err != nil {
		return errorMessage(err)
	}
	if c.json {
		return encodeJSON(c.w, pihuhttp.NewPermissionItem(p))
	}
	fmt.Fprintf(c.w, "Defined %s for every account of this server: their keys may now be given it.\n", p.Name)
	return nil
}

func permissionsDelete(ctx context.Context, name string, c *permissionsCmd) error {
	if !c.server {
		api, err := c.client()
		if err != nil {
			return err
		}
		d, err := api.DeletePermission(ctx, name, c.force)
		if err != nil {
			return apiError(err)
		}
		if c.json {
			return c.printJSON(d.RawJSON())
		}
		c.deleted(d.Name, d.KeyCount)
		return nil
	}
	store, err := c.store(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	p, n, err := store.DeletePermission(ctx, "", pihu.Permission(name), c.force)
	if pihu.ErrorCode(err) == pihu.ENotFound {
		return fmt.Errorf("the server defines no permission %q; \"pihu permissions list --server\" shows those it does", pihu.MaskSecrets(name))
	}
	if err != nil {
		return errorMessage(err)
	}
	if c.json {
		return encodeJSON(c.w, pihuhttp.PermissionDeleted{PermissionItem: pihuhttp.NewPermissionItem(p), Deleted: true, KeyCount: n})
	}
	c.deleted(string(p.Name), n)
	return nil
}

// deleted says that the permission name is deleted, and what of the n
// keys that still hold it.
func (c *permissionsCmd) deleted(name string, n int) {
	fmt.Fprintf(c.w, "Deleted %s.", name)
	switch {
	case n == 1:
		fmt.Fprint(c.w, " 1 key still holds it, until changed or revoked.")
	case n > 1:
		fmt.Fprintf(c.w, " %d keys still hold it, until changed or revoked.", n)
	}
	fmt.Fprintln(c.w)
}

// errorMessage is a store's *pihu.Error as its message alone, for a
// person; any other error as it is.
func errorMessage(err error) error {
	if _, ok := err.(*pihu.Error); ok {
		return fmt.Errorf("%s", pihu.ErrorMessage(err))
	}
	return err
}
