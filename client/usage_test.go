package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/client"
)

func TestClient_KeyUsage(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c := s.client(t, s.Owner)
	k, err := c.CreateKey(ctx, client.KeyParams{Name: "used", Permissions: []string{"candidate:read"}})
	if err != nil {
		t.Fatal(err)
	}
	used := s.client(t, k.Key)
	for range 2 {
		if _, err := used.Whoami(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_, err = used.CreateKey(ctx, client.KeyParams{Name: "more", Permissions: []string{"candidate:read"}})
	apiError(t, err, 403, "insufficient_permissions")

	for _, tt := range []struct {
		granularity string
		buckets     int
		step        time.Duration
	}{
		{"", 24, time.Hour},
		{client.Hourly, 24, time.Hour},
		{client.Daily, 30, 24 * time.Hour},
	} {
		u, err := c.KeyUsage(ctx, k.ID, client.UsageParams{Granularity: tt.granularity})
		if err != nil {
			t.Fatalf("KeyUsage(%q): %v", tt.granularity, err)
		}
		want := tt.granularity
		if want == "" {
			want = client.Hourly
		}
		if u.KeyID != k.ID || u.Granularity != want || len(u.Data) != tt.buckets || u.End.Sub(u.Start) != time.Duration(tt.buckets)*tt.step {
			t.Fatalf("KeyUsage(%q): got %s %s from %v to %v with %d buckets", tt.granularity, u.KeyID, u.Granularity, u.Start, u.End, len(u.Data))
		}
		if want := (client.UsageCounts{Allowed: 2, Refused: 1, RefusedBy: client.RefusedBy{InsufficientPermissions: 1}}); u.Total != want {
			t.Errorf("KeyUsage(%q): total %+v, want %+v", tt.granularity, u.Total, want)
		}
		var sum client.UsageCounts
		for i, b := range u.Data {
			if !b.Start.Equal(u.Start.Add(time.Duration(i) * tt.step)) {
				t.Errorf("KeyUsage(%q): bucket %d starts at %v", tt.granularity, i, b.Start)
			}
			sum.Allowed += b.Allowed
			sum.Refused += b.Refused
			sum.RefusedBy.InsufficientPermissions += b.RefusedBy.InsufficientPermissions
		}
		if sum != u.Total {
			t.Errorf("KeyUsage(%q): buckets sum to %+v, total says %+v", tt.granularity, sum, u.Total)
		}
	}

	_, err = c.KeyUsage(ctx, k.ID, client.UsageParams{Granularity: "week"})
	if e := apiError(t, err, 400, "parameter_invalid"); e.Param != "granularity" {
		t.Errorf("param: got %q, want granularity", e.Param)
	}
	_, err = c.KeyUsage(ctx, "key_nope", client.UsageParams{})
	apiError(t, err, 404, "not_found")
}
