package pihu_test

import (
	"context"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func TestActor_Check(t *testing.T) {
	at := testNow
	later := at.Add(time.Hour)
	actor := pihu.Actor{AccountID: "acct_1", KeyID: "key_1", At: at}
	for _, tt := range []struct {
		name string
		key  *pihu.Key
		code string
	}{
		{"Active", &pihu.Key{ID: "key_1", AccountID: "acct_1"}, ""},
		{"ExpiresLater", &pihu.Key{ID: "key_1", AccountID: "acct_1", Expires: &later}, ""},
		{"ErrNone", nil, pihu.ERevokedAPIKey},
		{"ErrOtherAccount", &pihu.Key{ID: "key_1", AccountID: "acct_2"}, pihu.ERevokedAPIKey},
		// A revocation dated after the actor acts still refuses it: a
		// key being revoked is not trusted to act.
		{"ErrRevokedLater", &pihu.Key{ID: "key_1", AccountID: "acct_1", Revoked: &later}, pihu.ERevokedAPIKey},
		{"ErrExpired", &pihu.Key{ID: "key_1", AccountID: "acct_1", Expires: &at}, pihu.EExpiredAPIKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := pihu.ErrorCode(actor.Check(tt.key)); got != tt.code {
				t.Errorf("Check: got %q, want %q", got, tt.code)
			}
		})
	}
}

func TestActor_Context(t *testing.T) {
	if _, ok := pihu.ActorFromContext(context.Background()); ok {
		t.Error("ActorFromContext(Background): got an actor, want none")
	}
	want := pihu.Actor{AccountID: "acct_1", KeyID: "key_1", At: testNow}
	got, ok := pihu.ActorFromContext(pihu.NewContextWithActor(context.Background(), want))
	if !ok || got != want {
		t.Errorf("ActorFromContext: got %+v %v, want %+v", got, ok, want)
	}
	k := &pihu.Key{ID: "key_2", AccountID: "acct_1", CreatedBy: "key_1", Created: testNow}
	if got := pihu.CreatorOf(k); got != want {
		t.Errorf("CreatorOf: got %+v, want %+v", got, want)
	}
}
