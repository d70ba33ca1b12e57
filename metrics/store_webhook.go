package metrics

import (
	"context"
	"time"

	"github.com/pihu-ai/pihu"
)

// The webhook store calls, timed like the others.

func (s *store) CreateWebhookEndpoint(ctx context.Context, a1 *pihu.WebhookEndpoint, a2 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("CreateWebhookEndpoint", start, err) }(time.Now())
	return s.Store.CreateWebhookEndpoint(ctx, a1, a2...)
}

func (s *store) WebhookEndpoint(ctx context.Context, a1 pihu.Scope, a2 string) (r0 *pihu.WebhookEndpoint, err error) {
	defer func(start time.Time) { s.observe("WebhookEndpoint", start, err) }(time.Now())
	return s.Store.WebhookEndpoint(ctx, a1, a2)
}

func (s *store) ListWebhookEndpoints(ctx context.Context, a1 pihu.Scope, a2 pihu.Page) (r0 []*pihu.WebhookEndpoint, r1 bool, err error) {
	defer func(start time.Time) { s.observe("ListWebhookEndpoints", start, err) }(time.Now())
	return s.Store.ListWebhookEndpoints(ctx, a1, a2)
}

func (s *store) UpdateWebhookEndpoint(ctx context.Context, a1 *pihu.WebhookEndpoint, a2 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("UpdateWebhookEndpoint", start, err) }(time.Now())
	return s.Store.UpdateWebhookEndpoint(ctx, a1, a2...)
}

func (s *store) DeleteWebhookEndpoint(ctx context.Context, a1 pihu.Scope, a2 string, a3 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("DeleteWebhookEndpoint", start, err) }(time.Now())
	return s.Store.DeleteWebhookEndpoint(ctx, a1, a2, a3...)
}

func (s *store) ListDeliveries(ctx context.Context, a1 pihu.Scope, a2 string, a3 pihu.Page) (r0 []*pihu.Delivery, r1 bool, err error) {
	defer func(start time.Time) { s.observe("ListDeliveries", start, err) }(time.Now())
	return s.Store.ListDeliveries(ctx, a1, a2, a3)
}

func (s *store) EmitWebhookEvent(ctx context.Context, a1 *pihu.WebhookEvent, a2 string) (r0 bool, err error) {
	defer func(start time.Time) { s.observe("EmitWebhookEvent", start, err) }(time.Now())
	return s.Store.EmitWebhookEvent(ctx, a1, a2)
}

func (s *store) ExpiringKeys(ctx context.Context, a1, a2 time.Time, a3 time.Duration, a4 string) (r0 []*pihu.Key, err error) {
	defer func(start time.Time) { s.observe("ExpiringKeys", start, err) }(time.Now())
	return s.Store.ExpiringKeys(ctx, a1, a2, a3, a4)
}

func (s *store) ClaimDeliveries(ctx context.Context, a1 time.Time, a2 time.Duration, a3 int) (r0 []*pihu.Delivery, err error) {
	defer func(start time.Time) { s.observe("ClaimDeliveries", start, err) }(time.Now())
	return s.Store.ClaimDeliveries(ctx, a1, a2, a3)
}

func (s *store) FinishDelivery(ctx context.Context, a1 *pihu.Delivery, a2 pihu.DeliveryOutcome) (r0 *time.Time, err error) {
	defer func(start time.Time) { s.observe("FinishDelivery", start, err) }(time.Now())
	return s.Store.FinishDelivery(ctx, a1, a2)
}

func (s *store) PruneWebhooks(ctx context.Context, a1 time.Time) (r0 int, err error) {
	defer func(start time.Time) { s.observe("PruneWebhooks", start, err) }(time.Now())
	return s.Store.PruneWebhooks(ctx, a1)
}
