package pihu

// FindSecretsReaderChunk is FindSecretsReader with windows of chunk bytes,
// so that tests can cross many window edges with little text.
var FindSecretsReaderChunk = findSecretsReader

// ReadContext is how far on each side of a window the reader looks.
const ReadContext = readContext
