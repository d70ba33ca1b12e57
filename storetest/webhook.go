package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runWebhooks(t *testing.T, run runFunc) {
	run(t, "EndpointCRUD", testWebhooksEndpointCRUD)
	run(t, "EndpointOtherScopeIsNotFound", testWebhooksEndpointOtherScope)
	run(t, "OutboxInKeyTransaction", testWebhooksOutboxInKeyTransaction)
	run(t, "OutboxOnlySubscribedEnabledInScope", testWebhooksOutboxScope)
	run(t, "OutboxRollsBackWithChange", testWebhooksOutboxRollsBack)
	run(t, "ClaimAndFinish", testWebhooksClaimAndFinish)
	run(t, "LeaseExpires", testWebhooksLeaseExpires)
	run(t, "EmitDedupe", testWebhooksEmitDedupe)
	run(t, "ExpiringKeys", testWebhooksExpiringKeys)
	run(t, "DeleteDropsDeliveries", testWebhooksDeleteDropsDeliveries)
	run(t, "Prune", testWebhooksPrune)
	run(t, "QueueToOneEndpoint", testWebhooksQueueToOneEndpoint)
	run(t, "ResendSameEvent", testWebhooksResendSameEvent)
	run(t, "RollSecretOverlap", testWebhooksRollSecretOverlap)
}

// later is a time after any store's clock: deliveries queued are due then.
func later() time.Time { return time.Now().Add(24 * time.Hour) }

func testWebhooksQueueToOneEndpoint(t *testing.T, s pihu.Store) {
	_, owner := mustCreateAccount(t, s, "Acme")
	e := mustCreateEndpoint(t, s, owner, pihu.EventKeyRevoked)
	other := mustCreateEndpoint(t, s, owner, pihu.EventKeyRevoked)
	ev, err := pihu.NewTestWebhookEvent(e, epoch)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := s.QueueWebhookEvent(t.Context(), e.ID, ev)
	if err != nil || dl.EventID != ev.ID || dl.EventType != pihu.EventWebhookTest || dl.Status != pihu.DeliveryPending {
		t.Fatalf("QueueWebhookEvent: %+v, %v", dl, err)
	}
	scope := pihu.ScopeOf(owner)
	if ds := mustDeliveries(t, s, scope, e.ID); len(ds) != 1 || ds[0].ID != dl.ID {
		t.Errorf("the endpoint's deliveries: %+v, want the test one", ds)
	}
	if ds := mustDeliveries(t, s, scope, other.ID); len(ds) != 0 {
		t.Errorf("another endpoint got the test event: %+v", ds)
	}
	got, err := s.Delivery(t.Context(), scope, e.ID, dl.ID)
	if err != nil || string(got.Payload) != string(ev.Payload) || got.EventID != ev.ID {
		t.Fatalf("Delivery: %+v, %v; want the payload %s", got, err, ev.Payload)
	}
	claimed, err := s.ClaimDeliveries(t.Context(), later(), time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].ID != dl.ID || string(claimed[0].Payload) != string(ev.Payload) {
		t.Fatalf("ClaimDeliveries: %+v, %v", claimed, err)
	}

	// Nothing of another account's, or of the other environment's.
	_, stranger := mustCreateAccount(t, s, "Other")
	wrong, _ := pihu.NewTestWebhookEvent(&pihu.WebhookEndpoint{ID: e.ID, AccountID: stranger.AccountID, Environment: pihu.Live}, epoch)
	if _, err := s.QueueWebhookEvent(t.Context(), e.ID, wrong); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("QueueWebhookEvent to another account's endpoint: got %v, want ENotFound", err)
	}
	if _, err := s.Delivery(t.Context(), pihu.ScopeOf(stranger), e.ID, dl.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("Delivery from another account: got %v, want ENotFound", err)
	}
	if _, err := s.Delivery(t.Context(), pihu.Scope{AccountID: owner.AccountID, Environment: pihu.Test}, e.ID, dl.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("Delivery from the test environment: got %v, want ENotFound", err)
	}
	if _, err := s.Delivery(t.Context(), scope, other.ID, dl.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("Delivery through another endpoint: got %v, want ENotFound", err)
	}
}

func testWebhooksResendSameEvent(t *testing.T, s pihu.Store) {
	_, owner := mustCreateAccount(t, s, "Acme")
	e := mustCreateEndpoint(t, s, owner, pihu.EventKeyRateLimited)
	other := mustCreateEndpoint(t, s, owner, pihu.EventKeyRateLimited)
	emitTest(t, s, owner, pihu.EventKeyRateLimited, "")
	scope := pihu.ScopeOf(owner)
	first := mustDeliveries(t, s, scope, e.ID)[0]
	again, err := s.ResendDelivery(t.Context(), scope, e.ID, first.ID)
	if err != nil || again.ID == first.ID || again.EventID != first.EventID || again.EventType != first.EventType || again.Status != pihu.DeliveryPending {
		t.Fatalf("ResendDelivery: %+v, %v; want a new delivery of %s", again, err, first.EventID)
	}
	ds := mustDeliveries(t, s, scope, e.ID)
	if len(ds) != 2 || ds[0].ID != again.ID {
		t.Fatalf("deliveries after a resend: %+v", ds)
	}
	if len(mustDeliveries(t, s, scope, other.ID)) != 1 {
		t.Error("the resend went to another endpoint too")
	}
	a, _ := s.Delivery(t.Context(), scope, e.ID, first.ID)
	b, _ := s.Delivery(t.Context(), scope, e.ID, again.ID)
	if a == nil || b == nil || string(a.Payload) != string(b.Payload) {
		t.Errorf("the resent payload differs: %+v, %+v", a, b)
	}
	_, stranger := mustCreateAccount(t, s, "Other")
	if _, err := s.ResendDelivery(t.Context(), pihu.ScopeOf(stranger), e.ID, first.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("ResendDelivery from another account: got %v, want ENotFound", err)
	}
	if _, err := s.ResendDelivery(t.Context(), scope, other.ID, first.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("ResendDelivery through another endpoint: got %v, want ENotFound", err)
	}
	if _, err := s.ResendDelivery(t.Context(), scope, e.ID, "whd_nope"); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("ResendDelivery of no delivery: got %v, want ENotFound", err)
	}
}

func testWebhooksRollSecretOverlap(t *testing.T, s pihu.Store) {
	_, owner := mustCreateAccount(t, s, "Acme")
	e := mustCreateEndpoint(t, s, owner, pihu.EventKeyRateLimited)
	scope := pihu.ScopeOf(owner)
	old := e.Secret
	now := later()
	if err := e.RollSecret(owner, time.Hour, now); err != nil {
		t.Fatal(err)
	}
	ev := pihu.NewWebhookAuditEvent(pihu.ActionWebhookSecretRolled, owner.ID, "", e, now)
	if err := s.RollWebhookSecret(t.Context(), e, ev); err != nil {
		t.Fatalf("RollWebhookSecret: %v", err)
	}
	got, _ := s.WebhookEndpoint(t.Context(), scope, e.ID)
	if got.Secret != e.Secret || got.Secret == old || got.PreviousSecret != old || got.PreviousSecretExpires == nil || !got.PreviousSecretExpires.Equal(now.Add(time.Hour).Truncate(time.Second)) {
		t.Fatalf("after a roll: %+v", got)
	}
	emitTest(t, s, owner, pihu.EventKeyRateLimited, "")
	claimed, err := s.ClaimDeliveries(t.Context(), now.Add(time.Minute), time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].Secret != e.Secret || claimed[0].PreviousSecret != old {
		t.Fatalf("claimed during the overlap: %+v, %v; want both secrets", claimed, err)
	}
	// After the overlap, the new secret alone signs.
	claimed, err = s.ClaimDeliveries(t.Context(), now.Add(2*time.Hour), time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].PreviousSecret != "" {
		t.Fatalf("claimed after the overlap: %+v, %v; want the new secret alone", claimed, err)
	}
	// A roll with no overlap drops both former secrets at once.
	newer := e.Secret
	if err := e.RollSecret(owner, 0, now); err != nil {
		t.Fatal(err)
	}
	if err := s.RollWebhookSecret(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	got, _ = s.WebhookEndpoint(t.Context(), scope, e.ID)
	if got.Secret == newer || got.PreviousSecret != "" || got.PreviousSecretExpires != nil {
		t.Errorf("after a roll with no overlap: %+v", got)
	}
	_, stranger := mustCreateAccount(t, s, "Other")
	theirs := *got
	theirs.AccountID = stranger.AccountID
	if err := s.RollWebhookSecret(t.Context(), &theirs); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("RollWebhookSecret of another account's endpoint: got %v, want ENotFound", err)
	}
	if ds, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: owner.AccountID, Limit: 100}); !slices.ContainsFunc(ds, func(a *pihu.AuditEvent) bool { return a.Action == pihu.ActionWebhookSecretRolled && a.Target == e.ID }) {
		t.Error("no audit event of the roll")
	}
}

// mustCreateEndpoint stores an enabled endpoint of owner's scope
// subscribed to events.
func mustCreateEndpoint(tb testing.TB, s pihu.Store, owner *pihu.Key, events ...string) *pihu.WebhookEndpoint {
	tb.Helper()
	e, err := pihu.NewWebhookEndpoint(owner, "https://example.com/hooks", events, "", true, epoch)
	if err != nil {
		tb.Fatalf("NewWebhookEndpoint: %v", err)
	}
	if err := s.CreateWebhookEndpoint(tb.Context(), e, pihu.NewWebhookAuditEvent(pihu.ActionWebhookEndpointCreated, owner.ID, "", e, epoch)); err != nil {
		tb.Fatalf("CreateWebhookEndpoint: %v", err)
	}
	return e
}

func mustDeliveries(tb testing.TB, s pihu.Store, scope pihu.Scope, endpointID string) []*pihu.Delivery {
	tb.Helper()
	ds, _, err := s.ListDeliveries(tb.Context(), scope, endpointID, pihu.Page{Limit: 100})
	if err != nil {
		tb.Fatalf("ListDeliveries: %v", err)
	}
	return ds
}

func testWebhooksEndpointCRUD(t *testing.T, s pihu.Store) {
	_, owner := mustCreateAccount(t, s, "Acme")
	e := mustCreateEndpoint(t, s, owner, pihu.EventKeyCreated)
	scope := pihu.ScopeOf(owner)
	got, err := s.WebhookEndpoint(t.Context(), scope, e.ID)
	if err != nil {
		t.Fatalf("WebhookEndpoint: %v", err)
	}
	if got.URL != e.URL || got.Secret != e.Secret || !got.Enabled || !slices.Equal(got.Events, e.Events) || !got.Created.Equal(epoch) || got.FailingSince != nil {
		t.Errorf("WebhookEndpoint: got %+v, want %+v", got, e)
	}
	second := mustCreateEndpoint(t, s, owner, pihu.EventKeyRevoked)
	list, more, err := s.ListWebhookEndpoints(t.Context(), scope, pihu.Page{Limit: 1})
	if err != nil || len(list) != 1 || list[0].ID != second.ID || !more {
		t.Fatalf("ListWebhookEndpoints: got %v %v %v, want the newest and more", list, more, err)
	}
	e.URL, e.Events, e.Enabled, e.Description = "https://example.org/x", []string{pihu.EventKeyLeaked, pihu.EventKeyRotated}, false, "ops"
	if err := s.UpdateWebhookEndpoint(t.Context(), e); err != nil {
		t.Fatalf("UpdateWebhookEndpoint: %v", err)
	}
	got, _ = s.WebhookEndpoint(t.Context(), scope, e.ID)
	if got.URL != e.URL || got.Enabled || got.Description != "ops" || !slices.Equal(got.Events, e.Events) {
		t.Errorf("after update: got %+v, want %+v", got, e)
	}
	if err := s.DeleteWebhookEndpoint(t.Context(), scope, e.ID); err != nil {
		t.Fatalf("DeleteWebhookEndpoint: %v", err)
	}
	if _, err := s.WebhookEndpoint(t.Context(), scope, e.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("deleted endpoint: got %v, want ENotFound", err)
	}
	if err := s.DeleteWebhookEndpoint(t.Context(), scope, e.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("delete twice: got %v, want ENotFound", err)
	}
	// The deleted endpoint's id stays a cursor.
	if _, _, err := s.ListWebhookEndpoints(t.Context(), scope, pihu.Page{StartingAfter: e.ID}); err != nil {
		t.Errorf("cursor of a deleted endpoint: %v", err)
	}
	if _, _, err := s.ListWebhookEndpoints(t.Context(), scope, pihu.Page{StartingAfter: "we_nope"}); pihu.ErrorCode(err) != pihu.EParameterInvalid {
		t.Errorf("unknown cursor: got %v, want EParameterInvalid", err)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: owner.AccountID, Target: second.ID, Limit: 10})
	if len(events) != 1 || events[0].Action != pihu.ActionWebhookEndpointCreated {
		t.Errorf("audit events of the endpoint: got %+v, want its creation", events)
	}
}

func testWebhooksEndpointOtherScope(t *testing.T, s pihu.Store) {
	_, owner := mustCreateAccount(t, s, "Acme")
	_, other := mustCreateAccount(t, s, "Other")
	e := mustCreateEndpoint(t, s, owner, pihu.EventKeyCreated)
	for _, scope := range []pihu.Scope{pihu.ScopeOf(other), {AccountID: owner.AccountID, Environment: pihu.Test}} {
		if _, err := s.WebhookEndpoint(t.Context(), scope, e.ID); pihu.ErrorCode(err) != pihu.ENotFound {
			t.Errorf("WebhookEndpoint(%v): got %v, want ENotFound", scope, err)
		}
		if _, _, err := s.ListDeliveries(t.Context(), scope, e.ID, pihu.Page{}); pihu.ErrorCode(err) != pihu.ENotFound {
			t.Errorf("ListDeliveries(%v): got %v, want ENotFound", scope, err)
		}
		if err := s.DeleteWebhookEndpoint(t.Context(), scope, e.ID); pihu.ErrorCode(err) != pihu.ENotFound {
			t.Errorf("DeleteWebhookEndpoint(%v): got %v, want ENotFound", scope, err)
		}
		moved := *e
		moved.AccountID, moved.Environment = scope.AccountID, scope.Environment
		if err := s.UpdateWebhookEndpoint(t.Context(), &moved); pihu.ErrorCode(err) != pihu.ENotFound {
			t.Errorf("UpdateWebhookEndpoint(%v): got %v, want ENotFound", scope, err)
		}
	}
}

// testWebhooksOutboxInKeyTransaction creates, rotates and revokes keys and
// finds one delivery an event, each carrying the key as it was after the
// change, and no secret.
func testWebhooksOutboxInKeyTransaction(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	e := mustCreateEndpoint(t, s, owner, pihu.EventKeyCreated, pihu.EventKeyRevoked)
	k, secret, err := pihu.NewKey(a.ID, readKey("worker"), owner, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(t.Context(), k, pihu.NewAuditEvent(pihu.ActionKeyCreated, owner.ID, "", k, epoch)); err != nil {
		t.Fatal(err)
	}
	rev := pihu.NewAuditEvent(pihu.ActionKeyRevoked, owner.ID, "", k, epoch.Add(time.Minute))
	if _, err := s.RevokeKey(t.Context(), a.ID, k.ID, epoch.Add(time.Minute), rev); err != nil {
		t.Fatal(err)
	}
	ds := mustDeliveries(t, s, pihu.ScopeOf(owner), e.ID)
	if len(ds) != 2 || ds[0].EventType != pihu.EventKeyRevoked || ds[1].EventType != pihu.EventKeyCreated || ds[0].EventID != rev.ID {
		t.Fatalf("deliveries: got %+v, want revoked then created", ds)
	}
	for _, d := range ds {
		if d.Status != pihu.DeliveryPending || d.NextAttempt == nil || len(d.Attempts) != 0 {
			t.Errorf("delivery %s: got %+v, want pending and due", d.ID, d)
		}
	}
	claimed, err := s.ClaimDeliveries(t.Context(), epoch.Add(time.Hour), time.Minute, 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("ClaimDeliveries: got %d, %v, want 2", len(claimed), err)
	}
	for _, d := range claimed {
		var p pihu.WebhookPayload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			t.Fatalf("payload %s: %v", d.Payload, err)
		}
		if p.ID != d.EventID || p.Type != d.EventType || p.Data.ID != k.ID || p.Data.Name != "worker" || !p.Livemode {
			t.Errorf("payload: got %+v", p)
		}
		if strings.Contains(string(d.Payload), secret) {
			t.Errorf("payload holds the secret: %s", d.Payload)
		}
		if d.URL != e.URL || d.Secret != e.Secret || d.AccountID != a.ID || d.Environment != pihu.Live {
			t.Errorf("claimed: got %+v", d)
		}
	}
}

// testWebhooksOutboxScope checks that an event reaches the enabled
// endpoints of its key's account and environment subscribed to it, and
// no other.
func testWebhooksOutboxScope(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	_, other := mustCreateAccount(t, s, "Other")
	live := mustCreateEndpoint(t, s, owner, pihu.EventKeyCreated)
	unsubscribed := mustCreateEndpoint(t, s, owner, pihu.EventKeyRevoked)
	disabled := mustCreateEndpoint(t, s, owner, pihu.EventKeyCreated)
	disabled.Enabled = false
	if err := s.UpdateWebhookEndpoint(t.Context(), disabled); err != nil {
		t.Fatal(err)
	}
	testOwner := *owner
	testOwner.Environment = pihu.Test
	testEndpoint := mustCreateEndpoint(t, s, &testOwner, pihu.EventKeyCreated)
	foreign := mustCreateEndpoint(t, s, other, pihu.EventKeyCreated)

	req := readKey("test worker")
	req.Environment = pihu.Test
	k, _, err := pihu.NewKey(a.ID, req, owner, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(t.Context(), k, pihu.NewAuditEvent(pihu.ActionKeyCreated, owner.ID, "", k, epoch)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		e    *pihu.WebhookEndpoint
		want int
	}{{live, 0}, {unsubscribed, 0}, {disabled, 0}, {testEndpoint, 1}, {foreign, 0}} {
		scope := pihu.Scope{AccountID: c.e.AccountID, Environment: c.e.Environment}
		if got := mustDeliveries(t, s, scope, c.e.ID); len(got) != c.want {
			t.Errorf("deliveries to %s: got %d, want %d", c.e.ID, len(got), c.want)
		}
	}
	// The test key was created by a live key: a test endpoint does not
	// learn its id.
	claimed, err := s.ClaimDeliveries(t.Context(), epoch, time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimDeliveries: got %d, %v", len(claimed), err)
	}
	var p pihu.WebhookPayload
	if err := json.Unmarshal(claimed[0].Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.Data.CreatedBy != nil || p.Livemode {
		t.Errorf("test event: got created_by %v, livemode %v, want null and false", p.Data.CreatedBy, p.Livemode)
	}
}

// testWebhooksOutboxRollsBack checks that a change that fails writes no
// delivery either.
func testWebhooksOutboxRollsBack(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	e := mustCreateEndpoint(t, s, owner, pihu.EventKeyCreated)
	k := newKey(t, a.ID, readKey("dup"), epoch)
	mustCreateKey(t, s, k)
	dup := newKey(t, a.ID, readKey("dup"), epoch)
	dup.ID = k.ID // a duplicate id fails the insert
	if err := s.CreateKey(t.Context(), dup, pihu.NewAuditEvent(pihu.ActionKeyCreated, owner.ID, "", dup, epoch)); err == nil {
		t.Fatal("CreateKey of a duplicate id succeeded")
	}
	if got := mustDeliveries(t, s, pihu.ScopeOf(owner), e.ID); len(got) != 0 {
		t.Errorf("deliveries after a failed change: got %d, want 0", len(got))
	}
}

// emitTest emits an event about owner.
func emitTest(tb testing.TB, s pihu.Store, owner *pihu.Key, typ, dedupe string) bool {
	tb.Helper()
	ev, err := pihu.NewKeyEvent("", typ, owner, false, epoch)
	if err != nil {
		tb.Fatal(err)
	}
	ok, err := s.EmitWebhookEvent(tb.Context(), ev, dedupe)
	if err != nil {
		tb.Fatalf("EmitWebhookEvent: %v", err)
	}
	return ok
}

func testWebhooksClaimAndFinish(t *testing.T, s pihu.Store) {
	_, owner := mustCreateAccount(t, s, "Acme")
	e := mustCreateEndpoint(t, s, owner, pihu.EventKeyRateLimited)
	if !emitTest(t, s, owner, pihu.EventKeyRateLimited, "") {
		t.Fatal("EmitWebhookEvent: not emitted")
	}
	now := epoch.Add(time.Second)
	claimed, err := s.ClaimDeliveries(t.Context(), now, time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimDeliveries: got %d, %v, want 1", len(claimed), err)
	}
	if again, _ := s.ClaimDeliveries(t.Context(), now, time.Minute, 10); len(again) != 0 {
		t.Fatalf("a leased delivery was claimed again: %+v", again)
	}
	d := claimed[0]
	next := now.Add(30 * time.Second)
	failing, err := s.FinishDelivery(t.Context(), d, pihu.DeliveryOutcome{
		Attempt:     pihu.DeliveryAttempt{At: now, StatusCode: 500, Duration: 12 * time.Millisecond},
		NextAttempt: &next,
	})
	if err != nil || failing == nil || !failing.Equal(now) {
		t.Fatalf("FinishDelivery(500): failing since %v, %v; want %v", failing, err, now)
	}
	if got, _ := s.ClaimDeliveries(t.Context(), now.Add(10*time.Second), time.Minute, 10); len(got) != 0 {
		t.Errorf("claimed before its next attempt: %+v", got)
	}
	claimed, err = s.ClaimDeliveries(t.Context(), next, time.Minute, 10)
	if err != nil || len(claimed) != 1 || len(claimed[0].Attempts) != 1 {
		t.Fatalf("ClaimDeliveries at the retry: got %+v, %v", claimed, err)
	}
	failing, err = s.FinishDelivery(t.Context(), claimed[0], pihu.DeliveryOutcome{
		Attempt: pihu.DeliveryAttempt{At: next, StatusCode: 204}, Delivered: true,
	})
	if err != nil || failing != nil {
		t.Fatalf("FinishDelivery(204): failing since %v, %v; want nil", failing, err)
	}
	ds := mustDeliveries(t, s, pihu.ScopeOf(owner), e.ID)
	if len(ds) != 1 || ds[0].Status != pihu.DeliveryDelivered || len(ds[0].Attempts) != 2 || ds[0].NextAttempt != nil {
		t.Fatalf("deliveries: got %+v, want one delivered after two attempts", ds)
	}
	if a := ds[0].Attempts; a[0].StatusCode != 500 || a[1].StatusCode != 204 || a[0].Duration != 12*time.Millisecond || !a[0].At.Equal(now) {
		t.Errorf("attempts: got %+v", a)
	}
	// Finishing under a lease that is gone records nothing.
	if _, err := s.FinishDelivery(t.Context(), d, pihu.DeliveryOutcome{Attempt: pihu.DeliveryAttempt{At: next}}); err != nil {
		t.Fatal(err)
	}
	if ds := mustDeliveries(t, s, pihu.ScopeOf(owner), e.ID); len(ds[0].Attempts) != 2 || ds[0].Status != pihu.DeliveryDelivered {
		t.Errorf("a stale lease changed the delivery: %+v", ds[0])
	}
	got, _ := s.WebhookEndpoint(t.Context(), pihu.ScopeOf(owner), e.ID)
	if got.FailingSince != nil {
		t.Errorf("FailingSince after a success: got %v, want nil", got.FailingSince)
	}
}

func testWebhooksLeaseExpires(t *testing.T, s pihu.Store) {
	_, owner := mustCreateAccount(t, s, "Acme")
	mustCreateEndpoint(t, s, owner, pihu.EventKeyRateLimited)
	emitTest(t, s, owner, pihu.EventKeyRateLimited, "")
	first, err := s.ClaimDeliveries(t.Context(), epoch, time.Minute, 10)
	if err != nil || len(first) != 1 {
		t.Fatalf("ClaimDeliveries: %d, %v", len(first), err)
	}
	// The dispatcher that claimed it died: after the lease it is due again.
	second, err := s.ClaimDeliveries(t.Context(), epoch.Add(2*time.Minute), time.Minute, 10)
	if err != nil || len(second) != 1 || second[0].Lease == first[0].Lease {
		t.Fatalf("ClaimDeliveries after the lease: %+v, %v", second, err)
	}
}

func testWebhooksEmitDedupe(t *testing.T, s pihu.Store) {
	_, owner := mustCreateAccount(t, s, "Acme")
	e := mustCreateEndpoint(t, s, owner, pihu.EventKeyExpiringSoon)
	const name = "api_key.expiring_soon:7d:"
	if wins := emitRace(t, []pihu.Store{s}, 8, pihu.EventKeyExpiringSoon, owner, name+owner.ID); wins != 1 {
		t.Errorf("emitted %d times, want once", wins)
	}
	if ds := mustDeliveries(t, s, pihu.ScopeOf(owner), e.ID); len(ds) != 1 {
		t.Errorf("deliveries: got %d, want 1", len(ds))
	}
	// Without an endpoint, an event with no name is not stored, one with a
	// name is (so that it is still sent once).
	_, lone := mustCreateAccount(t, s, "Lone")
	if emitTest(t, s, lone, pihu.EventKeyRateLimited, "") {
		t.Error("an event nobody subscribes to was stored")
	}
	if !emitTest(t, s, lone, pihu.EventKeyRateLimited, "rl:"+lone.ID) || emitTest(t, s, lone, pihu.EventKeyRateLimited, "rl:"+lone.ID) {
		t.Error("a named event was not stored exactly once")
	}
}

func testWebhooksExpiringKeys(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	req := readKey("soon")
	req.Expiration = "10d"
	soon := newKey(t, a.ID, req, epoch)
	mustCreateKey(t, s, soon)
	req.Expiration = "30d"
	later := newKey(t, a.ID, req, epoch)
	mustCreateKey(t, s, later)
	req.Expiration = "2d"
	short := newKey(t, a.ID, req, epoch.Add(6*24*time.Hour))
	mustCreateKey(t, s, short)
	now := epoch.Add(7 * 24 * time.Hour)
	keys, err := s.ExpiringKeys(t.Context(), now, now.Add(7*24*time.Hour), 7*24*time.Hour, "x:")
	if err != nil || len(keys) != 1 || keys[0].ID != soon.ID {
		t.Fatalf("ExpiringKeys: got %v, %v, want %s", keys, err, soon.ID)
	}
	emitTest(t, s, owner, pihu.EventKeyExpiringSoon, "x:"+soon.ID)
	if keys, _ := s.ExpiringKeys(t.Context(), now, now.Add(7*24*time.Hour), 7*24*time.Hour, "x:"); len(keys) != 0 {
		t.Errorf("ExpiringKeys after its event: got %v, want none", keys)
	}
	if keys, _ := s.ExpiringKeys(t.Context(), now, now.Add(7*24*time.Hour), 7*24*time.Hour, "y:"); len(keys) != 1 {
		t.Errorf("ExpiringKeys of another name: got %v, want %s", keys, soon.ID)
	}
	// A key whose whole lifetime is shorter than the notice gets none.
	if keys, _ := s.ExpiringKeys(t.Context(), now, now.Add(7*24*time.Hour), 24*time.Hour, "y:"); len(keys) != 2 {
		t.Errorf("ExpiringKeys of another name: got %v, want %s", keys, soon.ID)
	}
}

func testWebhooksDeleteDropsDeliveries(t *testing.T, s pihu.Store) {
	_, owner := mustCreateAccount(t, s, "Acme")
	e := mustCreateEndpoint(t, s, owner, pihu.EventKeyRateLimited)
	emitTest(t, s, owner, pihu.EventKeyRateLimited, "")
	if err := s.DeleteWebhookEndpoint(t.Context(), pihu.ScopeOf(owner), e.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ClaimDeliveries(t.Context(), epoch.Add(time.Hour), time.Minute, 10); len(got) != 0 {
		t.Errorf("claimed a delivery of a deleted endpoint: %+v", got)
	}
}

// testInstancesClaimDeliveries races two instances claiming the same
// deliveries: every delivery is claimed exactly once.
func testInstancesClaimDeliveries(t *testing.T, s [2]pihu.Store) {
	_, owner := mustCreateAccount(t, s[0], "Acme")
	mustCreateEndpoint(t, s[0], owner, pihu.EventKeyRateLimited)
	const n = 40
	for range n {
		emitTest(t, s[0], owner, pihu.EventKeyRateLimited, "")
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]int{}
	)
	record := func(ds []*pihu.Delivery) {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range ds {
			seen[d.ID]++
		}
	}
	for _, st := range s {
		for range 3 {
			wg.Go(func() { claimAll(t, st, record) })
		}
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("claimed %d deliveries, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("delivery %s claimed %d times", id, c)
		}
	}
}

// claimAll claims deliveries of st, three at a time, until none is left,
// and gives each batch to record.
func claimAll(t *testing.T, st pihu.Store, record func([]*pihu.Delivery)) {
	for {
		ds, err := st.ClaimDeliveries(t.Context(), epoch.Add(time.Second), time.Hour, 3)
		if err != nil {
			t.Errorf("ClaimDeliveries: %v", err)
			return
		}
		if len(ds) == 0 {
			return
		}
		record(ds)
	}
}

// testInstancesEmitDedupe races two instances emitting the same named
// event: it is stored once.
func testInstancesEmitDedupe(t *testing.T, s [2]pihu.Store) {
	_, owner := mustCreateAccount(t, s[0], "Acme")
	if wins := emitRace(t, s[:], 4, pihu.EventKeyRateLimited, owner, "rl:"+owner.ID+":1"); wins != 1 {
		t.Errorf("emitted %d times across instances, want once", wins)
	}
}

// emitRace emits the event typ of owner, named dedupe, from each
// goroutines at once on every one of stores, and returns how many emissions were stored.
func emitRace(t *testing.T, stores []pihu.Store, each int, typ string, owner *pihu.Key, dedupe string) int {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for _, st := range stores {
		for range each {
			wg.Go(func() {
				ev, _ := pihu.NewKeyEvent("", typ, owner, false, epoch)
				ok, err := st.EmitWebhookEvent(t.Context(), ev, dedupe)
				if err != nil {
					t.Errorf("EmitWebhookEvent: %v", err)
				}
				if ok {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return wins
}

// testWebhooksPrune keeps what is newer than the cut, and deletes older
// deliveries and the events left without any.
func testWebhooksPrune(t *testing.T, s pihu.Store) {
	_, owner := mustCreateAccount(t, s, "Acme")
	e := mustCreateEndpoint(t, s, owner, pihu.EventKeyRateLimited)
	emitTest(t, s, owner, pihu.EventKeyRateLimited, "")    // at epoch, with a delivery
	emitTest(t, s, owner, pihu.EventKeyRateLimited, "x:1") // named, at epoch
	if n, err := s.PruneWebhooks(t.Context(), epoch); err != nil || n != 0 {
		t.Fatalf("PruneWebhooks(epoch): %d, %v; want nothing older", n, err)
	}
	n, err := s.PruneWebhooks(t.Context(), epoch.Add(time.Hour))
	if err != nil || n != 4 {
		t.Fatalf("PruneWebhooks: deleted %d, %v; want 2 deliveries and 2 events", n, err)
	}
	if ds := mustDeliveries(t, s, pihu.ScopeOf(owner), e.ID); len(ds) != 0 {
		t.Errorf("deliveries after pruning: %d", len(ds))
	}
	// The name is free again once its event is pruned.
	if !emitTest(t, s, owner, pihu.EventKeyRateLimited, "x:1") {
		t.Error("a pruned event's name is still taken")
	}
}
