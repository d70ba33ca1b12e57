package pihu_test

import (
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/pihu-ai/pihu"
)

// TestOptional: a member left out, given as null and given a value are
// three states, and a value of the wrong kind is an error naming it.
func TestOptional(t *testing.T) {
	type body struct {
		Limit pihu.Optional[string]   `json:"limit"`
		IPs   pihu.Optional[[]string] `json:"ips"`
	}
	for _, tt := range []struct {
		json      string
		limit     pihu.Optional[string]
		ipsSet    bool
		ipsNull   bool
		wantError bool
	}{
		{json: `{}`},
		{json: `{"limit":null}`, limit: pihu.Null[string]()},
		{json: `{"limit":"5/m"}`, limit: pihu.Some("5/m")},
		{json: `{"limit":""}`, limit: pihu.Some("")},
		{json: `{"ips":[]}`, ipsSet: true},
		{json: `{"ips":null}`, ipsSet: true, ipsNull: true},
		{json: `{"limit":5}`, wantError: true},
	} {
		var b body
		err := json.Unmarshal([]byte(tt.json), &b)
		if tt.wantError {
			if err == nil {
				t.Errorf("%s: got no error", tt.json)
			}
			continue
		}
		if err != nil || b.Limit != tt.limit || b.IPs.Set != tt.ipsSet || b.IPs.Null != tt.ipsNull {
			t.Errorf("%s: got %+v, %v", tt.json, b, err)
		}
		if p := b.Limit.Ptr(); (p != nil) != (tt.limit.Set && !tt.limit.Null) {
			t.Errorf("%s: Ptr() = %v", tt.json, p)
		}
	}
}
