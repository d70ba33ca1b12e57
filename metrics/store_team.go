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

// The methods of pihu.UserStore for two-factor sign-in and sessions.

func (s *store) ListSessions(ctx context.Context, a1 string) (r0 []*pihu.Session, err error) {
	defer func(start time.Time) { s.observe("ListSessions", start, err) }(time.Now())
	return s.Store.ListSessions(ctx, a1)
}

func (s *store) DeleteUserSession(ctx context.Context, a1 string, a2 string, a3 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("DeleteUserSession", start, err) }(time.Now())
	return s.Store.DeleteUserSession(ctx, a1, a2, a3...)
}

func (s *store) DeleteOtherSessions(ctx context.Context, a1 string, a2 []byte, a3 ...*pihu.AuditEvent) (r0 int, err error) {
	defer func(start time.Time) { s.observe("DeleteOtherSessions", start, err) }(time.Now())
	return s.Store.DeleteOtherSessions(ctx, a1, a2, a3...)
}

func (s *store) EnableTwoFactor(ctx context.Context, a1 string, a2 string, a3 string, a4 int64, a5 [][]byte, a6 time.Time, a7 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("EnableTwoFactor", start, err) }(time.Now())
	return s.Store.EnableTwoFactor(ctx, a1, a2, a3, a4, a5, a6, a7...)
}

func (s *store) DisableTwoFactor(ctx context.Context, a1 string, a2 string, a3 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("DisableTwoFactor", start, err) }(time.Now())
	return s.Store.DisableTwoFactor(ctx, a1, a2, a3...)
}

func (s *store) UseTOTPStep(ctx context.Context, a1 string, a2 int64, a3 ...*pihu.AuditEvent) (r0 bool, err error) {
	defer func(start time.Time) { s.observe("UseTOTPStep", start, err) }(time.Now())
	return s.Store.UseTOTPStep(ctx, a1, a2, a3...)
}

func (s *store) UseRecoveryCode(ctx context.Context, a1 string, a2 []byte, a3 time.Time, a4 ...*pihu.AuditEvent) (r0 bool, err error) {
	defer func(start time.Time) { s.observe("UseRecoveryCode", start, err) }(time.Now())
	return s.Store.UseRecoveryCode(ctx, a1, a2, a3, a4...)
}

func (s *store) RecoveryCodesLeft(ctx context.Context, a1 string) (r0 int, err error) {
	defer func(start time.Time) { s.observe("RecoveryCodesLeft", start, err) }(time.Now())
	return s.Store.RecoveryCodesLeft(ctx, a1)
}

func (s *store) SetTwoFactorRequired(ctx context.Context, a1 string, a2 bool, a3 ...*pihu.AuditEvent) (r0 *pihu.Account, err error) {
	defer func(start time.Time) { s.observe("SetTwoFactorRequired", start, err) }(time.Now())
	return s.Store.SetTwoFactorRequired(ctx, a1, a2, a3...)
}

func (s *store) RecordUserEvents(ctx context.Context, a1 ...*pihu.AuditEvent) (err error) {
	defer func(start time.Time) { s.observe("RecordUserEvents", start, err) }(time.Now())
	return s.Store.RecordUserEvents(ctx, a1...)
}

func (s *store) SetSSORequired(ctx context.Context, a1 string, a2 bool, a3 ...*pihu.AuditEvent) (r0 *pihu.Account, err error) {
	defer func(start time.Time) { s.observe("SetSSORequired", start, err) }(time.Now())
	return s.Store.SetSSORequired(ctx, a1, a2, a3...)
}
