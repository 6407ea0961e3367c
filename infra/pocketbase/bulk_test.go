package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
)

// The TS integration test (packages/db/test/integration/bulk-insert.test.ts) covers the route against the real
// migrations; these cover what only an in-process hook can stage: a concurrent writer and a failing transaction.

type bulkFixture struct {
	app      *tests.TestApp
	token    string
	tenantId string
}

func newBulkFixture(t testing.TB) *bulkFixture {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tenants := core.NewBaseCollection("tenants")
	tenants.Fields.Add(&core.TextField{Name: "name"})
	must(t, app.Save(tenants))

	logs := core.NewBaseCollection("logs")
	logs.Fields.Add(
		&core.RelationField{Name: "tenant", CollectionId: tenants.Id, MaxSelect: 1, Required: true},
		&core.TextField{Name: "event_id", Required: true},
		&core.NumberField{Name: "tokens", OnlyInt: true},
	)
	logs.AddIndex("idx_logs_tenant_event_id", true, "`tenant`, `event_id`", "")
	must(t, app.Save(logs))

	tenant := core.NewRecord(tenants)
	tenant.Set("name", "acme")
	must(t, app.Save(tenant))

	superusers, err := app.FindCollectionByNameOrId(core.CollectionNameSuperusers)
	must(t, err)
	superuser := core.NewRecord(superusers)
	superuser.SetEmail("operator@bulk.test")
	superuser.SetPassword("operator-password")
	must(t, app.Save(superuser))
	token, err := superuser.NewAuthToken()
	must(t, err)

	registerBulkRoute(app)
	return &bulkFixture{app: app, token: token, tenantId: tenant.Id}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *bulkFixture) body(eventIds ...string) *strings.Reader {
	records := make([]map[string]any, len(eventIds))
	for i, id := range eventIds {
		records[i] = map[string]any{"tenant": f.tenantId, "event_id": id, "tokens": i}
	}
	encoded, _ := json.Marshal(map[string]any{"unique_by": []string{"tenant", "event_id"}, "records": records})
	return strings.NewReader(string(encoded))
}

func (f *bulkFixture) countLogs(t testing.TB) int {
	total, err := f.app.CountRecords("logs")
	must(t, err)
	return int(total)
}

func decodeResults(t testing.TB, res *http.Response) []bulkResult {
	t.Helper()
	var body struct{ Results []bulkResult }
	must(t, json.NewDecoder(res.Body).Decode(&body))
	return body.Results
}

func TestBulkInsertReportsARowAConcurrentWriterCommittedAsDuplicate(t *testing.T) {
	f := newBulkFixture(t)
	var raced *core.Record
	f.app.OnRecordCreate("logs").BindFunc(func(e *core.RecordEvent) error {
		if e.Record.GetString("event_id") == "raced" && raced == nil {
			// Commits the same key between the route's lookup and its insert.
			raced = core.NewRecord(e.Record.Collection())
			raced.Load(map[string]any{"tenant": f.tenantId, "event_id": "raced"})
			if err := e.App.Save(raced); err != nil {
				return err
			}
		}
		return e.Next()
	})

	(&tests.ApiScenario{
		Method:          http.MethodPost,
		URL:             "/api/cloudfreedom/bulk/logs",
		Body:            f.body("first", "raced", "last"),
		Headers:         map[string]string{"Authorization": f.token},
		ExpectedStatus:  200,
		ExpectedContent: []string{`"results"`},
		TestAppFactory:  func(testing.TB) *tests.TestApp { return f.app },
		AfterTestFunc: func(t testing.TB, _ *tests.TestApp, res *http.Response) {
			results := decodeResults(t, res)
			statuses := fmt.Sprint(results[0].Status, results[1].Status, results[2].Status)
			if statuses != "createdduplicatecreated" || results[1].Id != raced.Id {
				t.Fatalf("unexpected results %+v (raced row %s)", results, raced.Id)
			}
			if n := f.countLogs(t); n != 3 {
				t.Fatalf("expected 3 rows, got %d", n)
			}
		},
	}).Test(t)
}

func TestBulkInsertWritesNothingWhenTheTransactionFails(t *testing.T) {
	f := newBulkFixture(t)
	f.app.OnRecordCreate("logs").BindFunc(func(e *core.RecordEvent) error {
		if e.Record.GetString("event_id") == "broken" {
			return errors.New("disk I/O error")
		}
		return e.Next()
	})

	(&tests.ApiScenario{
		Method:          http.MethodPost,
		URL:             "/api/cloudfreedom/bulk/logs",
		Body:            f.body("fine", "broken"),
		Headers:         map[string]string{"Authorization": f.token},
		ExpectedStatus:  500,
		ExpectedContent: []string{`The bulk insert transaction failed.`},
		TestAppFactory:  func(testing.TB) *tests.TestApp { return f.app },
		AfterTestFunc: func(t testing.TB, _ *tests.TestApp, _ *http.Response) {
			if n := f.countLogs(t); n != 0 {
				t.Fatalf("expected no rows after a failed transaction, got %d", n)
			}
		},
	}).Test(t)
}

func TestBulkInsertRejectsUnknownUniqueByFields(t *testing.T) {
	f := newBulkFixture(t)
	(&tests.ApiScenario{
		Method:          http.MethodPost,
		URL:             "/api/cloudfreedom/bulk/logs",
		Body:            strings.NewReader(`{"unique_by":["tenant","nope"],"records":[{"event_id":"a"}]}`),
		Headers:         map[string]string{"Authorization": f.token},
		ExpectedStatus:  400,
		ExpectedContent: []string{`"unique_by":{"code":"validation_unknown_field"`},
		TestAppFactory:  func(testing.TB) *tests.TestApp { return f.app },
	}).Test(t)
}
