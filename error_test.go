package pihu_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/pihu-ai/pihu"
)

func TestErrorCode(t *testing.T) {
	e := pihu.ParamErrorf(pihu.EParameterInvalid, "expiration", "%q is not a lifetime.", "1y")
	for _, tt := range []struct {
		name        string
		err         error
		wantCode    string
		wantMessage string
	}{
		{"Error", e, pihu.EParameterInvalid, `"1y" is not a lifetime.`},
		{"Wrapped", fmt.Errorf("create key: %w", e), pihu.EParameterInvalid, `"1y" is not a lifetime.`},
		{"WrappedTwice", fmt.Errorf("http: %w", fmt.Errorf("create key: %w", e)), pihu.EParameterInvalid, `"1y" is not a lifetime.`},
		{"Joined", errors.Join(io.EOF, pihu.Errorf(pihu.ENotFound, "No such key.")), pihu.ENotFound, "No such key."},
		{"Plain", errors.New("sqlite: database is locked"), pihu.EInternal, "Internal error."},
		{"PlainWrapped", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), pihu.EInternal, "Internal error."},
		{"Nil", nil, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := pihu.ErrorCode(tt.err); got != tt.wantCode {
				t.Errorf("ErrorCode: got %v, want %v", got, tt.wantCode)
			}
			if got := pihu.ErrorMessage(tt.err); got != tt.wantMessage {
				t.Errorf("ErrorMessage: got %q, want %q", got, tt.wantMessage)
			}
		})
	}
}

func TestError_Error(t *testing.T) {
	for _, tt := range []struct {
		err  *pihu.Error
		want string
	}{
		{pihu.Errorf(pihu.ENotFound, "No key %s.", "key_1"), "pihu: not_found: No key key_1."},
		{pihu.ParamErrorf(pihu.EParameterMissing, "name", "Give a name."), "pihu: parameter_missing (name): Give a name."},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
