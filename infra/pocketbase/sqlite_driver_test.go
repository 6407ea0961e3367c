package main

import "testing"

// The C build has what PocketBase's default (modernc) SQLite has and PocketBase relies on (build-tags): the
// math functions its geoDistance() filter compiles to, and FTS5. Without the tags these fail with "no such
// function" / "no such module".
func TestSQLiteBuildFeatures(t *testing.T) {
	app := newTestApp(t)
	var row struct {
		Acos float64 `db:"a"`
		Pi   float64 `db:"p"`
	}
	if err := app.DB().NewQuery("SELECT acos(1) AS a, round(pi(), 5) AS p").One(&row); err != nil {
		t.Fatalf("math functions: %v", err)
	}
	if row.Acos != 0 || row.Pi != 3.14159 {
		t.Fatalf("math functions answered acos(1)=%v pi()=%v", row.Acos, row.Pi)
	}
	if _, err := app.DB().NewQuery("CREATE VIRTUAL TABLE fts_probe USING fts5(body)").Execute(); err != nil {
		t.Fatalf("fts5: %v", err)
	}

	// PocketBase's own filter function, through its record search.
	if _, err := app.FindRecordsByFilter("_superusers", "geoDistance(0, 0, 1, 1) < 1000", "", 1, 0); err != nil {
		t.Fatalf("geoDistance filter: %v", err)
	}
}
