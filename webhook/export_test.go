package webhook

// NewClientWithResolver is NewClient resolving names with a resolver of
// the test's.
var NewClientWithResolver = newClient

// Describe is what an attempt that got no answer records as its error.
var Describe = describe
