package client_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/client"
	"github.com/pihu-ai/pihu/webhook"
)

const (
	whSecret = "whsec_0123456789abcdefghijklmnopqrstuvwxyzABCDEF"
	whBody   = `{"id":"evt_1","type":"api_key.revoked","created":"2024-02-20T12:00:00Z","livemode":true,"data":{"id":"key_1","name":"Worker"}}`
)

func TestVerifyWebhook(t *testing.T) {
	now := time.Now()
	valid := webhook.Sign(whSecret, now, []byte(whBody))
	old := webhook.Sign(whSecret, now.Add(-10*time.Minute), []byte(whBody))
	other := webhook.Sign("whsec_other", now, []byte(whBody))
	_, otherSig, _ := strings.Cut(other, ",")
	for _, tt := range []struct {
		name   string
		body   string
		header string
		secret string
		want   error
	}{
		{"Valid", whBody, valid, whSecret, nil},
		{"TamperedBody", strings.Replace(whBody, "revoked", "created", 1), valid, whSecret, client.ErrWebhookSignature},
		{"OldTimestamp", whBody, old, whSecret, client.ErrWebhookTimestamp},
		{"WrongSecret", whBody, valid, "whsec_wrong", client.ErrWebhookSignature},
		// During a change of secret a delivery may carry a signature per
		// secret: either one verifies.
		{"TwoSignaturesFirstMatches", whBody, valid + "," + otherSig, whSecret, nil},
		{"TwoSignaturesSecondMatches", whBody, other + "," + strings.SplitN(valid, ",", 2)[1], whSecret, nil},
		{"TimestampChanged", whBody, strings.Replace(valid, "t=", "t=1", 1), whSecret, client.ErrWebhookSignature},
		{"NoHeader", whBody, "", whSecret, client.ErrWebhookHeader},
		{"NoSignature", whBody, "t=" + strings.TrimPrefix(strings.Split(valid, ",")[0], "t="), whSecret, client.ErrWebhookHeader},
		{"Garbage", whBody, "v1=zz,t=x", whSecret, client.ErrWebhookHeader},
		// Found by FuzzVerifyWebhook: the right bytes spelt in uppercase
		// hex were accepted. Only the form pihu writes is.
		{"UppercaseSignature", whBody, valid[:strings.Index(valid, "v1=")+3] + strings.ToUpper(valid[strings.Index(valid, "v1=")+3:]), whSecret, client.ErrWebhookSignature},
		{"SignatureWithPrefix", whBody, strings.Replace(valid, "v1=", "v1=00", 1), whSecret, client.ErrWebhookSignature},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := client.VerifyWebhook([]byte(tt.body), tt.header, tt.secret, 5*time.Minute)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want == nil && (ev.ID != "evt_1" || ev.Type != "api_key.revoked" || ev.Data.ID != "key_1" || !ev.Livemode) {
				t.Errorf("event: got %+v", ev)
			}
		})
	}
	t.Run("ToleranceWidens", func(t *testing.T) {
		if _, err := client.VerifyWebhook([]byte(whBody), old, whSecret, time.Hour); err != nil {
			t.Errorf("a 10 minutes old delivery with a tolerance of an hour: %v", err)
		}
	})
}

// TestDocs_WebhookExample checks that docs/webhooks.md shows the body of
// ExampleVerifyWebhook, which the tests compile, unchanged.
func TestDocs_WebhookExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/webhooks.md shows no Go code")
	}
	src, err := os.ReadFile("example_webhook_test.go")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "example_webhook_test.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var body string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "ExampleVerifyWebhook" {
			body = string(src[fn.Body.Lbrace+1 : fn.Body.Rbrace-1])
		}
	}
	var lines []string
	for _, l := range strings.Split(strings.Trim(body, "\n"), "\n") {
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	if want := strings.Join(lines, "\n") + "\n"; string(m[1]) != want {
		t.Errorf("docs/webhooks.md shows another program than ExampleVerifyWebhook:\ngot\n%s\nwant\n%s", m[1], want)
	}
}

// FuzzVerifyWebhook: no header is accepted unless it carries the body's
// right signature, and the header Sign writes is always accepted (for a
// body that is an event).
func FuzzVerifyWebhook(f *testing.F) {
	now := time.Now()
	f.Add([]byte(whBody), webhook.Sign(whSecret, now, []byte(whBody)))
	f.Add([]byte(whBody), "t=1,v1=00")
	f.Add([]byte("{}"), "v1=,t=,v1=zz")
	f.Add([]byte(`{"id":1}`), "t=99999999999999999999,v1=ab")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		_, err := client.VerifyWebhook(body, header, whSecret, time.Hour)
		if err == nil {
			// Accepted: the header's last t and one of its v1 parts must be
			// the documented signature, lowercase hex of
			// HMAC-SHA256(secret, "<t>.<body>").
			var ts string
			var sigs []string
			for part := range strings.SplitSeq(header, ",") {
				k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
				switch k {
				case "t":
					ts = v
				case "v1":
					sigs = append(sigs, v)
				}
			}
			m := hmac.New(sha256.New, []byte(whSecret))
			m.Write([]byte(ts + "."))
			m.Write(body)
			if want := hex.EncodeToString(m.Sum(nil)); !slices.Contains(sigs, want) {
				t.Fatalf("accepted %q for %q without its signature %s", header, body, want)
			}
		}
		right := webhook.Sign(whSecret, time.Now(), body)
		var ev client.Event
		if json.Unmarshal(body, &ev) == nil {
			if _, err := client.VerifyWebhook(body, right, whSecret, time.Hour); err != nil {
				t.Fatalf("Sign's own header refused for %q: %v", body, err)
			}
		}
	})
}

// TestClient_WebhookEndpoints drives every endpoint method against the real
// server, and verifies a delivery the dispatcher sends with the secret
// CreateWebhookEndpoint returned.
func TestClient_WebhookEndpoints(t *testing.T) {
	s := newServer(t)
	ctx := t.Context()
	c := s.client(t, s.Owner)
	var (
		received = make(chan client.Event, 4)
		secret   string
		also     string // a second secret each delivery must verify with, if set
	)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := client.VerifyWebhook(body, r.Header.Get("Pihu-Signature"), secret, time.Minute)
		if err != nil {
			t.Errorf("VerifyWebhook: %v", err)
		}
		if also != "" {
			if _, err := client.VerifyWebhook(body, r.Header.Get("Pihu-Signature"), also, time.Minute); err != nil {
				t.Errorf("VerifyWebhook with the other secret: %v", err)
			}
		}
		received <- ev
	}))
	defer rc.Close()
	url := rc.URL + "/hooks"
	e, err := c.CreateWebhookEndpoint(ctx, client.WebhookEndpointParams{URL: &url, Events: []string{"api_key.created"}})
	if err != nil {
		t.Fatal(err)
	}
	secret = e.Secret
	if !strings.HasPrefix(e.ID, "we_") || !strings.HasPrefix(secret, "whsec_") || !e.Enabled || e.Created.IsZero() {
		t.Fatalf("created: %+v", e)
	}
	bad := "http://example.com/x"
	_, err = c.CreateWebhookEndpoint(ctx, client.WebhookEndpointParams{URL: &bad, Events: []string{"api_key.created"}})
	apiError(t, err, 400, "parameter_invalid")

	k, err := c.CreateKey(ctx, client.KeyParams{Name: "worker", Permissions: []string{"candidate:read"}})
	if err != nil {
		t.Fatal(err)
	}
	d := &webhook.Dispatcher{Store: s.store, AllowLoopback: true}
	if n, err := d.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("RunOnce: %d, %v", n, err)
	}
	if ev := <-received; ev.Type != "api_key.created" || ev.Data.ID != k.ID || ev.Data.Name != "worker" {
		t.Errorf("received %+v", ev)
	}
	ds, err := c.ListDeliveries(ctx, e.ID, client.ListParams{})
	if err != nil || len(ds.Data) != 1 || ds.Data[0].Status != "delivered" || len(ds.Data[0].Attempts) != 1 || *ds.Data[0].Attempts[0].StatusCode != 200 {
		t.Fatalf("ListDeliveries: %+v, %v", ds, err)
	}

	// A test event, then the same event again.
	sent, err := c.SendTestEvent(ctx, e.ID)
	if err != nil || sent.Type != "webhook.test" || sent.Status != "pending" {
		t.Fatalf("SendTestEvent: %+v, %v", sent, err)
	}
	if n, err := d.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("RunOnce: %d, %v", n, err)
	}
	if ev := <-received; ev.Type != "webhook.test" || ev.ID != sent.EventID {
		t.Errorf("received %+v, want the test event %s", ev, sent.EventID)
	}
	again, err := c.ResendDelivery(ctx, e.ID, sent.ID)
	if err != nil || again.ID == sent.ID || again.EventID != sent.EventID {
		t.Fatalf("ResendDelivery: %+v, %v", again, err)
	}
	_, err = c.ResendDelivery(ctx, e.ID, "whd_nope")
	apiError(t, err, 404, "not_found")
	if n, err := d.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("RunOnce: %d, %v", n, err)
	}
	if ev := <-received; ev.ID != sent.EventID {
		t.Errorf("received %+v, want %s again", ev, sent.EventID)
	}
	// A roll with an overlap: deliveries verify with either secret.
	rolled, err := c.RollWebhookSecret(ctx, e.ID, "24h")
	if err != nil || !strings.HasPrefix(rolled.Secret, "whsec_") || rolled.Secret == secret || rolled.PreviousSecretExpires == nil {
		t.Fatalf("RollWebhookSecret: %+v, %v", rolled, err)
	}
	_, err = c.RollWebhookSecret(ctx, e.ID, "30d")
	apiError(t, err, 400, "parameter_invalid")
	secret, also = rolled.Secret, secret
	if _, err := c.SendTestEvent(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := d.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("RunOnce: %d, %v", n, err)
	}
	<-received
	also = ""

	off, desc := false, "paused"
	got, err := c.UpdateWebhookEndpoint(ctx, e.ID, client.WebhookEndpointParams{Enabled: &off, Description: &desc})
	if err != nil || got.Enabled || got.Description != "paused" || got.Secret != "" || got.URL != url {
		t.Fatalf("UpdateWebhookEndpoint: %+v, %v", got, err)
	}
	if got, err := c.GetWebhookEndpoint(ctx, e.ID); err != nil || got.Enabled || got.Secret != "" {
		t.Fatalf("GetWebhookEndpoint: %+v, %v", got, err)
	}
	list, err := c.ListWebhookEndpoints(ctx, client.ListParams{Limit: 10})
	if err != nil || len(list.Data) != 1 || list.Data[0].ID != e.ID {
		t.Fatalf("ListWebhookEndpoints: %+v, %v", list, err)
	}
	if del, err := c.DeleteWebhookEndpoint(ctx, e.ID); err != nil || !del.Deleted {
		t.Fatalf("DeleteWebhookEndpoint: %+v, %v", del, err)
	}
	_, err = c.GetWebhookEndpoint(ctx, e.ID)
	apiError(t, err, 404, "not_found")
}
