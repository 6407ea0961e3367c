package main

// The hooks of usage_sums.go against the stored logs. (A review found the first version drifting: it took
// away the record the caller had loaded, not the stored row.)

import (
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
)

type sumRow struct {
	Billed   int64 `db:"billed"`
	Requests int64 `db:"requests"`
	Queries  int64 `db:"queries"`
}

// newSumsApp is a PocketBase test app with a usage_logs collection, the sums table and the hooks.
func newSumsApp(t *testing.T) (*tests.TestApp, *core.Collection) {
	t.Helper()
	app := newTestApp(t)
	logs := core.NewBaseCollection("usage_logs")
	logs.Fields.Add(
		&core.TextField{Name: "tenant"},
		&core.TextField{Name: "period"},
		&core.TextField{Name: "api_key"},
		&core.TextField{Name: "user"},
		&core.TextField{Name: "status"},
		&core.NumberField{Name: "billed_micros", OnlyInt: true},
		&core.NumberField{Name: "cost_micros", OnlyInt: true},
	)
	must(t, app.Save(logs))
	// As the migration 1767226700_usage_period_sums.js creates it.
	_, err := app.DB().NewQuery(`CREATE TABLE usage_period_sums (
  tenant TEXT NOT NULL, period TEXT NOT NULL, api_key TEXT NOT NULL, user TEXT NOT NULL,
  billed_micros INTEGER NOT NULL DEFAULT 0, cost_micros INTEGER NOT NULL DEFAULT 0,
  requests INTEGER NOT NULL DEFAULT 0, queries INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant, period, api_key, user)) WITHOUT ROWID`).Execute()
	must(t, err)
	registerUsageSums(app)
	return app, logs
}

// sums is the kept sums and the same sums taken from the logs, over the whole table.
func sums(t *testing.T, app core.App) (sumRow, sumRow) {
	t.Helper()
	var kept, truth sumRow
	if err := app.DB().NewQuery(`SELECT COALESCE(SUM(billed_micros),0) AS billed, COALESCE(SUM(requests),0) AS requests, COALESCE(SUM(queries),0) AS queries FROM usage_period_sums`).One(&kept); err != nil {
		t.Fatal(err)
	}
	if err := app.DB().NewQuery(`SELECT COALESCE(SUM(billed_micros),0) AS billed, COUNT(*) AS requests, COALESCE(SUM(CASE WHEN status = 'error' AND billed_micros = 0 THEN 0 ELSE 1 END),0) AS queries FROM usage_logs`).One(&truth); err != nil {
		t.Fatal(err)
	}
	return kept, truth
}

// newLog is an unsaved log of tenant t1 in 2026-11 billing `billed`.
func newLog(logs *core.Collection, billed int) *core.Record {
	r := core.NewRecord(logs)
	r.Set("tenant", "t1")
	r.Set("period", "2026-11")
	r.Set("status", "success")
	r.Set("billed_micros", billed)
	r.Set("cost_micros", billed)
	return r
}

// Each case stores logs of 100 and 40, then writes as a caller would; the kept sums must equal the logs'.
// Concurrent requests are played as two copies of one log fetched before either writes.
func TestUsageSumsFollowTheStoredLogs(t *testing.T) {
	cases := map[string]func(t *testing.T, app core.App, a *core.Record){
		// The same object changed and saved again: its Original() is still the blank new record.
		"a record saved twice": func(t *testing.T, app core.App, a *core.Record) {
			a.Set("billed_micros", 150)
			must(t, app.Save(a))
		},
		"two deletes of one log": func(t *testing.T, app core.App, a *core.Record) {
			first, second := twoCopies(t, app, a)
			must(t, app.Delete(first))
			_ = app.Delete(second)
		},
		"two updates of one log": func(t *testing.T, app core.App, a *core.Record) {
			first, second := twoCopies(t, app, a)
			first.Set("billed_micros", 200)
			second.Set("billed_micros", 300)
			must(t, app.Save(first))
			must(t, app.Save(second))
		},
		"an update of a log deleted meanwhile": func(t *testing.T, app core.App, a *core.Record) {
			first, second := twoCopies(t, app, a)
			must(t, app.Delete(first))
			second.Set("billed_micros", 300)
			_ = app.Save(second)
		},
		"a log moved to another period, then made an error that billed nothing": func(t *testing.T, app core.App, a *core.Record) {
			a.Set("period", "2026-12")
			must(t, app.Save(a))
			a.Set("status", "error")
			a.Set("billed_micros", 0)
			must(t, app.Save(a))
		},
	}
	for name, write := range cases {
		t.Run(name, func(t *testing.T) {
			app, logs := newSumsApp(t)
			a := newLog(logs, 100)
			must(t, app.Save(a))
			must(t, app.Save(newLog(logs, 40)))
			write(t, app, a)
			if kept, truth := sums(t, app); kept != truth {
				t.Errorf("kept %+v, the logs sum to %+v", kept, truth)
			}
		})
	}
}

// twoCopies is the log as two concurrent requests would each have fetched it.
func twoCopies(t *testing.T, app core.App, log *core.Record) (*core.Record, *core.Record) {
	t.Helper()
	first, err := app.FindRecordById(usageLogsCollection, log.Id)
	must(t, err)
	second, err := app.FindRecordById(usageLogsCollection, log.Id)
	must(t, err)
	return first, second
}

// The hook's transaction covers the insert: when the sums cannot be written, no log is stored.
func TestUsageSumsRollBackWithTheLog(t *testing.T) {
	app, logs := newSumsApp(t)
	if _, err := app.DB().NewQuery("DROP TABLE usage_period_sums").Execute(); err != nil {
		t.Fatal(err)
	}
	err := app.Save(newLog(logs, 100))
	var n int
	_ = app.DB().Select("count(*)").From("usage_logs").Row(&n)
	if err == nil || n != 0 {
		t.Errorf("insert not rolled back with the sums: err=%v stored=%d", err, n)
	}
}
