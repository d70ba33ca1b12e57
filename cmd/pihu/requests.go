package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/pihu-ai/pihu/client"
)

const keysRequestsUsage = "[ID] [--refused] [--status 429|4xx] [--code CODE] [--since TIME] [--until TIME] [--limit N] [--starting-after ID] [--json]"

// keysRequests prints the request log of the key ID, or with no ID the
// account's: GET /v1/auth/api-keys/{id}/requests, GET /v1/auth/requests.
func keysRequests(ctx context.Context, fs *flag.FlagSet, args []string, o *output) error {
	var (
		p            client.RequestLogParams
		since, until string
	)
	fs.IntVar(&p.Limit, "limit", 100, "how many entries to show, 1 to 100")
	fs.StringVar(&p.StartingAfter, "starting-after", "", "show the entries after this id (the last one of the previous page)")
	fs.BoolVar(&p.Refused, "refused", false, "show the refused requests only (and the counts of those left out of the log)")
	fs.StringVar(&p.Status, "status", "", "show the requests answered with this status (429) or class (4xx)")
	fs.StringVar(&p.Code, "code", "", "show the requests answered with this error code, such as rate_limited")
	fs.StringVar(&since, "since", "", "show the requests at or after this time (RFC 3339)")
	fs.StringVar(&until, "until", "", "show the requests before this time (RFC 3339)")
	// The key's id is optional: parse the flags around it.
	var id string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		id, args = args[0], args[1:]
	}
	if _, err := parseArgs(fs, args, 0, keysRequestsUsage); err != nil {
		return err
	}
	for _, t := range []struct {
		name, v string
		to      *time.Time
	}{{"since", since, &p.Since}, {"until", until, &p.Until}} {
		if t.v == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.v)
		if err != nil {
			return usageError{fmt.Sprintf("keys requests: --%s %q: give a time such as 2026-12-01T00:00:00Z", t.name, t.v)}
		}
		*t.to = v
	}
	return request(o, func(c *client.Client) (*client.RequestLog, error) {
		if id != "" {
			return c.KeyRequests(ctx, id, p)
		}
		return c.ListRequests(ctx, p)
	}, func(l *client.RequestLog) error {
		t := newTable(o.w)
		t.row("TIME", "KEY", "DOOR", "METHOD", "PATH", "STATUS", "IP", "CODE")
		for _, e := range l.Data {
			if e.Omitted > 0 {
				t.row(e.Time.UTC().Format(time.RFC3339), cell(e.KeyID), "-", "-", fmt.Sprintf("(%d requests not logged)", e.Omitted), "-", "-", "-")
				continue
			}
			t.row(e.Time.UTC().Format(time.RFC3339), cell(e.KeyID), cell(e.Door), orDash(cell(e.Method)), orDash(cell(e.Path)),
				strconv.Itoa(e.Status), orDash(cell(e.IP)), orDash(cell(e.Code)))
		}
		if err := t.flush(); err != nil {
			return err
		}
		if l.HasMore && len(l.Data) > 0 {
			fmt.Fprintf(o.w, "More: --starting-after %s\n", l.Data[len(l.Data)-1].ID)
		}
		return nil
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
