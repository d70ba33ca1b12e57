package postgres_test

import (
	"testing"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/postgres/postgrestest"
	"github.com/pihu-ai/pihu/storetest"
)

// BenchmarkStore measures cold key lookups and key creation on PostgreSQL
// (see storetest.Bench); BENCHMARKS.md has the figures next to SQLite's.
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) pihu.Store { return mustOpen(b, postgrestest.NewSchema(b)) })
}

// BenchmarkListKeys measures a page of keys among 10,000, whole and
// filtered (see storetest.BenchFilters).
func BenchmarkListKeys(b *testing.B) {
	storetest.BenchFilters(b, func(b *testing.B) pihu.Store { return mustOpen(b, postgrestest.NewSchema(b)) })
}
