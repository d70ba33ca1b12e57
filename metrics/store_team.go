package metrics

import (
	"context"
	"time"

	"github.com/pihu-ai/pihu"
)

// The methods of pihu.UserStore for teams: memberships, invites and
// switching a session's account.

func (s *store) Memberships(ctx context.Context, a1 string) (r0 []pihu.Membership, err error) {
	defer func(start time.Time) { s.observe("Memberships", start, err) }(time.Now())
	return s.Store.Memberships(ctx, a1)
}

func (s *store) RemoveMember(ctx context.Context, a1 string, a2 string, a3 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("RemoveMember", start, err) }(time.Now())
	return s.Store.RemoveMember(ctx, a1, a2, a3...)
}

func (s *store) CreateInvite(ctx context.Context, a1 *pihu.Invite, a2 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("CreateInvite", start, err) }(time.Now())
	return s.Store.CreateInvite(ctx, a1, a2...)
}

func (s *store) ListInvites(ctx context.Context, a1 string, a2 time.Time) (r0 []*pihu.Invite, err error) {
	defer func(start time.Time) { s.observe("ListInvites", start, err) }(time.Now())
	return s.Store.ListInvites(ctx, a1, a2)
}

func (s *store) CancelInvite(ctx context.Context, a1 string, a2 string, a3 time.Time, a4 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("CancelInvite", start, err) }(time.Now())
	return s.Store.CancelInvite(ctx, a1, a2, a3, a4...)
}

func (s *store) InviteByDigest(ctx context.Context, a1 []byte, a2 time.Time) (r0 *pihu.Invite, err error) {
	defer func(start time.Time) { s.observe("InviteByDigest", start, err) }(time.Now())
	return s.Store.InviteByDigest(ctx, a1, a2)
}

func (s *store) AcceptInvite(ctx context.Context, a1 []byte, a2 *pihu.User, a3 time.Time, a4 ...*pihu.AuditEvent) (r0 *pihu.User, err error) {
	defer func(start time.Time) { s.observe("AcceptInvite", start, err) }(time.Now())
	return s.Store.AcceptInvite(ctx, a1, a2, a3, a4...)
}

func (s *store) SwitchSession(ctx context.Context, a1 []byte, a2 string) (err error) {
	defer func(start time.Time) { s.observe("SwitchSession", start, err) }(time.Now())
	return s.Store.SwitchSession(ctx, a1, a2)
}
