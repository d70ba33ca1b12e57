package pihu

import (
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Optional is a member of a change (a PATCH body) that is absent (leave
// the field as it is), null (clear it) or a value: the three cases a
// pointer cannot tell apart. It decodes itself with JSON v2 semantics, so
// a body's member is Set exactly when it was in the body.
type Optional[T any] struct {
	// Set is whether the member was given.
	Set bool
	// Null is whether it was given as null; Value is then T's zero.
	Null  bool
	Value T
}

// Some is an Optional set to v.
func Some[T any](v T) Optional[T] { return Optional[T]{Set: true, Value: v} }

// Null is an Optional set to null.
func Null[T any]() Optional[T] { return Optional[T]{Set: true, Null: true} }

// Ptr is the value, or nil when absent or null.
func (o Optional[T]) Ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	return &o.Value
}

// UnmarshalJSONFrom decodes a member that is present: null, or a T.
func (o *Optional[T]) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	o.Set = true
	if dec.PeekKind() == 'n' {
		o.Null = true
		_, err := dec.ReadToken()
		return err
	}
	return json.UnmarshalDecode(dec, &o.Value)
}
