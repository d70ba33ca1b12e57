package webhook

// NewClientWithResolver is NewClient resolving names with a resolver of
// the test's.
var NewClientWithResolver = newClient
