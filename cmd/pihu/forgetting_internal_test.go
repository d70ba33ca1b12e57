package main

import (
	"context"
	"slices"
	"testing"

	"github.com/pihu-ai/pihu/auth"
)

// heard is auth.Invalidations that hands the messages msgs to the
// subscriber.
type heard struct {
	auth.Invalidations
	msgs []string
}

func (h heard) Subscribe(_ context.Context, invalidated func(string), _ func(bool)) {
	for _, m := range h.msgs {
		invalidated(m)
	}
}

// TestForgetting_Identity: a changed identity makes every instance give
// back its leases of the identity's shared limit and credits, which are
// the identity's id's, as a changed key does the key's.
func TestForgetting_Identity(t *testing.T) {
	var forgot, invalidated []string
	s := &sharedState{forget: []func(string){func(id string) { forgot = append(forgot, id) }}}
	f := forgetting{Invalidations: heard{msgs: []string{"key_abc", auth.IdentityMessage + "idt_abc"}}, s: s}
	f.Subscribe(t.Context(), func(m string) { invalidated = append(invalidated, m) }, func(bool) {})
	if want := []string{"key_abc", "idt_abc"}; !slices.Equal(forgot, want) {
		t.Errorf("forgotten: got %v, want %v", forgot, want)
	}
	if want := []string{"key_abc", "identity:idt_abc"}; !slices.Equal(invalidated, want) {
		t.Errorf("invalidated: got %v, want %v", invalidated, want)
	}
}
