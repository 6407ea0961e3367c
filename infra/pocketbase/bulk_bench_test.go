package main

import (
	"fmt"
	"testing"
)

// go test -tags "$(cat build-tags)" -run - -bench BulkInsert: the fast path's rows per second, 1,000-record
// keyed requests into a table growing through the run (the logs fixture: 20 columns, the key's unique index).
func BenchmarkBulkInsert(b *testing.B) {
	f := newBulkFixture(b, false)
	n := 0
	for b.Loop() {
		records := make([]map[string]any, 1000)
		for i := range records {
			records[i] = f.log(fmt.Sprint("ev", n), map[string]any{"code": "abc", "meta": map[string]any{"a": 1}})
			n++
		}
		if status, results, raw := f.post(b, f.keyed(records...)); status != 200 || len(results) != 1000 {
			b.Fatalf("unexpected answer %d %.300s", status, raw)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}
