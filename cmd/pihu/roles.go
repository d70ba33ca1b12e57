package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/pihu-ai/pihu/client"
)

const rolesUsage = `usage:
  pihu roles list [--limit N] [--starting-after ID | --ending-before ID] [--json]
  pihu roles get ID [--json]
  pihu roles create --name NAME --permission P [--permission P …] [--description TEXT] [--json]
  pihu roles update ID [--name NAME] [--description TEXT] [--permission P …] [--json]
  pihu roles delete ID [--force] [--json]

Roles are named sets of permissions of the account of the key in
PIHU_API_KEY, through the API (--api-url URL, PIHU_API_URL, default
http://127.0.0.1:8080). Give a key roles with pihu keys create --role ID:
it may then do what its permissions and its roles' allow, as the roles
are now. update --permission replaces the role's permissions, for every
key holding it, at once. delete refuses a role that keys hold, and says
how many; --force deletes it anyway (the keys lose it).`

// runRoles runs `pihu roles SUBCOMMAND`, as runKeys does.
func runRoles(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{rolesUsage}
	}
	sub, args := args[0], args[1:]
	var run func(ctx context.Context, fs *flag.FlagSet, args []string, out *output) error
	switch sub {
	case "list":
		run = rolesList
	case "get":
		run = rolesGet
	case "create":
		run = rolesCreate
	case "update":
		run = rolesUpdate
	case "delete":
		run = rolesDelete
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, rolesUsage)
		return nil
	default:
		return usageError{fmt.Sprintf("roles: unknown subcommand %q\n%s", sub, rolesUsage)}
	}
	out := &output{w: stdout}
	fs := newFlagSet("roles "+sub, stderr)
	out.cfg.apiFlags(fs)
	fs.BoolVar(&out.json, "json", false, "print the API's JSON")
	return run(ctx, fs, args, out)
}

func rolesList(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	var p client.ListParams
	fs.IntVar(&p.Limit, "limit", 100, "how many roles to show, 1 to 100")
	fs.StringVar(&p.StartingAfter, "starting-after", "", "show the roles after this id (the last one of the previous page)")
	fs.StringVar(&p.EndingBefore, "ending-before", "", "show the roles before this id (the first one of the next page), to page back")
	if _, err := parseArgs(fs, args, 0, "[--limit N] [--starting-after ID | --ending-before ID] [--json]"); err != nil {
		return err
	}
	if p.StartingAfter != "" && p.EndingBefore != "" {
		return usageError{"roles list: give --starting-after or --ending-before, not both"}
	}
	return request(o, func(c *client.Client) (*client.RoleList, error) { return c.ListRoles(ctx, p) }, func(list *client.RoleList) error {
		t := newTable(o.w)
		t.row("ID", "NAME", "PERMISSIONS", "UPDATED", "DESCRIPTION")
		for _, r := range list.Data {
			t.row(r.ID, r.Name, strings.Join(r.Permissions, ","), when(&r.Updated, ""), r.Description)
		}
		if err := t.flush(); err != nil {
			return err
		}
		switch {
		case list.HasMore && p.EndingBefore != "":
			fmt.Fprintf(o.w, "\nNewer roles come before: pihu roles list --ending-before %s\n", cell(list.Data[0].ID))
		case list.HasMore:
			fmt.Fprintf(o.w, "\nMore roles follow: pihu roles list --starting-after %s\n", cell(list.Data[len(list.Data)-1].ID))
		}
		return nil
	})
}

// roleTable prints a role's fields one a line.
func (o *output) roleTable(r *client.Role) error {
	t := newTable(o.w)
	t.row("ID", r.ID)
	t.row("Name", r.Name)
	t.row("Permissions", strings.Join(r.Permissions, ", "))
	if r.Description != "" {
		t.row("Description", r.Description)
	}
	t.row("Created", when(&r.Created, ""))
	t.row("Updated", when(&r.Updated, ""))
	return t.flush()
}

func rolesGet(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	pos, err := parseArgs(fs, args, 1, "ID [--json]")
	if err != nil {
		return err
	}
	return request(o, func(c *client.Client) (*client.Role, error) { return c.GetRole(ctx, pos[0]) }, o.roleTable)
}

func rolesCreate(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	var (
		p     client.RoleParams
		perms permissionFlag
	)
	fs.StringVar(&p.Name, "name", "", "the role's name, unique in the account (required)")
	fs.StringVar(&p.Description, "description", "", "what the role is for")
	fs.Var(&perms, "permission", "a permission of the role, such as candidate:read (required; repeat for more)")
	const usage = "--name NAME --permission P [--permission P …] [--description TEXT] [--json]"
	if _, err := parseArgs(fs, args, 0, usage); err != nil {
		return err
	}
	switch {
	case p.Name == "":
		return usageError{"roles create: --name is required\nusage: pihu roles create " + usage}
	case len(perms) == 0:
		return usageError{"roles create: --permission is required (repeat it for each permission, such as --permission candidate:read)\nusage: pihu roles create " + usage}
	}
	p.Permissions = perms
	return request(o, func(c *client.Client) (*client.Role, error) { return c.CreateRole(ctx, p) }, func(r *client.Role) error {
		fmt.Fprintf(o.w, "Created the role %q (%s): give it to keys with pihu keys create --role %s.\n\n", r.Name, cell(r.ID), cell(r.ID))
		return o.roleTable(r)
	})
}

func rolesUpdate(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	var (
		p            client.UpdateRoleParams
		perms        permissionFlag
		description  string
		describedSet bool
	)
	fs.StringVar(&p.Name, "name", "", "the role's new name")
	fs.Func("description", "the role's new description (\"\" for none)", func(s string) error {
		description, describedSet = s, true
		return nil
	})
	fs.Var(&perms, "permission", "a permission of the role, replacing them all (repeat for more)")
	const usage = "ID [--name NAME] [--description TEXT] [--permission P …] [--json]"
	pos, err := parseArgs(fs, args, 1, usage)
	if err != nil {
		return err
	}
	if describedSet {
		p.Description = &description
	}
	p.Permissions = perms
	if p.Name == "" && p.Description == nil && p.Permissions == nil {
		return usageError{"roles update: give --name, --description or --permission\nusage: pihu roles update " + usage}
	}
	return request(o, func(c *client.Client) (*client.Role, error) { return c.UpdateRole(ctx, pos[0], p) }, o.roleTable)
}

func rolesDelete(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	var force bool
	fs.BoolVar(&force, "force", false, "delete it even though keys hold it (they lose it)")
	pos, err := parseArgs(fs, args, 1, "ID [--force] [--json]")
	if err != nil {
		return err
	}
	return request(o, func(c *client.Client) (*client.RoleDeleted, error) { return c.DeleteRole(ctx, pos[0], force) }, func(d *client.RoleDeleted) error {
		fmt.Fprintf(o.w, "Deleted the role %q (%s).", d.Name, cell(d.ID))
		switch {
		case d.KeyCount == 1:
			fmt.Fprint(o.w, " 1 key held it, and lost it.")
		case d.KeyCount > 1:
			fmt.Fprintf(o.w, " %d keys held it, and lost it.", d.KeyCount)
		}
		fmt.Fprintln(o.w)
		return nil
	})
}
