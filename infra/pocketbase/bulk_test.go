package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"
)

// The TS integration test (packages/db/test/integration/bulk-insert.test.ts) covers the route against the real
// migrations; these cover what needs the app in process: the fast path against PocketBase's own Save (outcomes,
// validation errors, stored values), a concurrent writer, a failing transaction, and hooks.

type bulkFixture struct {
	app      *tests.TestApp
	logs     *core.Collection
	token    string
	tenantId string
	handler  http.Handler
}

// newBulkFixture has a "logs" collection with one field of each type the fast path handles. savePath adds a
// file field, which sends the collection down the Save path: the two fixtures compare the paths.
func newBulkFixture(t testing.TB, savePath bool) *bulkFixture {
	t.Helper()
	app := newTestApp(t)
	tenants := core.NewBaseCollection("tenants")
	tenants.Fields.Add(&core.TextField{Name: "name"})
	must(t, app.Save(tenants))

	zero, maxRatio := 0.0, 1.0
	logs := core.NewBaseCollection("logs")
	logs.Fields.Add(
		// As usage_logs: a type prefix, so PocketBase's own id check is its case-insensitive lookup.
		&core.TextField{Name: "id", System: true, PrimaryKey: true, Required: true, Min: 3, Max: 64,
			Pattern: "^[a-z0-9_]+$", AutogeneratePattern: "log_[a-z0-9]{15}"},
		&core.RelationField{Name: "tenant", CollectionId: tenants.Id, MaxSelect: 1, Required: true},
		&core.RelationField{Name: "tags", CollectionId: tenants.Id, MaxSelect: 3},
		&core.TextField{Name: "event_id", Required: true, Max: 32},
		&core.TextField{Name: "code", Max: 8, Pattern: "^[a-z]+$"},
		&core.TextField{Name: "slug", AutogeneratePattern: "[a-z]{6}"},
		&core.NumberField{Name: "tokens", OnlyInt: true, Min: &zero},
		&core.NumberField{Name: "ratio", Max: &maxRatio},
		&core.BoolField{Name: "flag"},
		&core.SelectField{Name: "kind", Values: []string{"a", "b", "c"}, MaxSelect: 1, Required: true},
		&core.SelectField{Name: "kinds", Values: []string{"a", "b", "c"}, MaxSelect: 2},
		&core.JSONField{Name: "meta"},
		&core.DateField{Name: "at"},
		&core.EmailField{Name: "email"},
		&core.URLField{Name: "site"},
		&core.EditorField{Name: "body"},
		&core.GeoPointField{Name: "place"},
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
	if savePath {
		logs.Fields.Add(&core.FileField{Name: "attachment", MaxSelect: 1})
	}
	logs.AddIndex("idx_logs_tenant_event_id", true, "`tenant`, `event_id`", "")
	must(t, app.Save(logs))
	if (newFastFields(logs) == nil) != savePath {
		t.Fatalf("logs should take the %s path", map[bool]string{true: "Save", false: "fast"}[savePath])
	}

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
	router, err := apis.NewRouter(app)
	must(t, err)
	f := &bulkFixture{app: app, logs: logs, token: token, tenantId: tenant.Id}
	must(t, app.OnServe().Trigger(&core.ServeEvent{App: app, Router: router}, func(e *core.ServeEvent) error {
		f.handler, err = e.Router.BuildMux()
		return err
	}))
	return f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// log is a valid record of logs with overrides; an override of nil drops the field.
func (f *bulkFixture) log(eventId string, overrides map[string]any) map[string]any {
	record := map[string]any{"tenant": f.tenantId, "event_id": eventId, "kind": "a", "tokens": 3}
	for field, value := range overrides {
		if value == nil {
			delete(record, field)
		} else {
			record[field] = value
		}
	}
	return record
}

// post sends body to the route and returns the status and the results (nil unless 200).
func (f *bulkFixture) post(t testing.TB, body any) (int, []bulkResult, string) {
	t.Helper()
	return f.postTo(t, "logs", body)
}

func (f *bulkFixture) postTo(t testing.TB, collection string, body any) (int, []bulkResult, string) {
	t.Helper()
	encoded, err := json.Marshal(body)
	must(t, err)
	req := httptest.NewRequest(http.MethodPost, "/api/cloudfreedom/bulk/"+collection, bytes.NewReader(encoded))
	req.Header.Set("content-type", "application/json")
	req.Header.Set("Authorization", f.token)
	recorder := httptest.NewRecorder()
	f.handler.ServeHTTP(recorder, req)
	if recorder.Code != http.StatusOK {
		return recorder.Code, nil, recorder.Body.String()
	}
	var answer struct{ Results []bulkResult }
	must(t, json.Unmarshal(recorder.Body.Bytes(), &answer))
	return recorder.Code, answer.Results, recorder.Body.String()
}

func (f *bulkFixture) keyed(records ...map[string]any) map[string]any {
	return map[string]any{"unique_by": []string{"tenant", "event_id"}, "records": records}
}

func (f *bulkFixture) countLogs(t testing.TB) int {
	total, err := f.app.CountRecords("logs")
	must(t, err)
	return int(total)
}

// save stores data with app.Save, as the records API does.
func (f *bulkFixture) save(t testing.TB, data map[string]any) *core.Record {
	t.Helper()
	record := core.NewRecord(f.logs)
	record.Load(data)
	must(t, f.app.Save(record))
	return record
}

func (f *bulkFixture) exec(t testing.TB, sql string) {
	t.Helper()
	_, err := f.app.DB().NewQuery(sql).Execute()
	must(t, err)
}

// bothPaths runs test against the fast path and the Save path.
func bothPaths(t *testing.T, test func(t *testing.T, f *bulkFixture)) {
	for _, savePath := range []bool{false, true} {
		t.Run(map[bool]string{true: "save", false: "fast"}[savePath], func(t *testing.T) {
			test(t, newBulkFixture(t, savePath))
		})
	}
}

// The fast path answers every record as PocketBase's Save does: outcome, duplicate target, error code, message
// and per-field data. Records cover each field type's checks, sent ids, and duplicates within and across
// requests, and across groups of the pipeline when spread (with valid records between them), prepared by the
// decoder or by workers.
func TestBulkInsertFastPathAnswersAsSave(t *testing.T) {
	fast, save := bulkOutcomes(t, newBulkFixture(t, false), 0), bulkOutcomes(t, newBulkFixture(t, true), 0)
	if !reflect.DeepEqual(fast, save) {
		t.Fatalf("fast path:\n%s\n\nSave path:\n%s", strings.Join(fast, "\n"), strings.Join(save, "\n"))
	}
	// Guards against both paths agreeing on nothing useful.
	expected := map[int]string{
		0:  "0 created record 0",
		1:  "1 duplicate record 0",
		2:  "2 duplicate stored",
		3:  "3 duplicate stored",
		5:  "5 created record 5",
		8:  `validation_missing_rel_records`,
		23: `"email":{"code":"validation_is_email"`,
		24: "24 created log_sentid000000001",
		25: `"id":{"code":"validation_pk_invalid"`,
		30: "30 duplicate stored2",
		31: "31 created unkeyed record 0",
		32: `"event_id":{"code":"validation_not_unique"`,
	}
	for i, want := range expected {
		if !strings.Contains(fast[i], want) {
			t.Errorf("outcome %d: want %q in %q", i, want, fast[i])
		}
	}

	save = bulkOutcomes(t, newBulkFixture(t, true), bulkGroupRecords)
	for _, procs := range []int{2, 4} {
		t.Run(fmt.Sprint("spread over groups, ", procs, " cores"), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			if fast := bulkOutcomes(t, newBulkFixture(t, false), bulkGroupRecords); !reflect.DeepEqual(fast, save) {
				t.Fatalf("fast path:\n%s\n\nSave path:\n%s", strings.Join(fast, "\n"), strings.Join(save, "\n"))
			}
		})
	}
}

// bulkOutcomes posts the records of TestBulkInsertFastPathAnswersAsSave, each followed by spread valid
// records, and describes the outcomes with ids replaced by what they point to.
func bulkOutcomes(t *testing.T, f *bulkFixture, spread int) []string {
	stored := f.save(t, f.log("stored", nil))
	storedToo := f.save(t, f.log("stored2", nil))
	f.save(t, f.log("taken", map[string]any{"id": "log_takenid00000001"}))
	labels := map[string]string{stored.Id: "stored", storedToo.Id: "stored2"}
	var answers []bulkResult

	records := []map[string]any{
		f.log("a1", nil),
		f.log("a1", map[string]any{"tokens": 9}),     // a repeat within the request
		f.log("stored", nil),                         // stored before
		f.log("stored", map[string]any{"kind": "z"}), // stored before, invalid: still a duplicate
		f.log("b1", map[string]any{"kind": "z"}),
		f.log("b1", nil), // its key's first record failed, so this one is written
		f.log("", nil),
		f.log("c1", map[string]any{"tenant": nil}),
		f.log("c2", map[string]any{"tenant": "doesnotexist123"}),
		f.log("c3", map[string]any{"tags": []string{f.tenantId, "doesnotexist123"}}),
		f.log("c4", map[string]any{"tags": []string{"x1", "x2", "x3", "x4"}}),
		f.log("c5", map[string]any{"tags": []string{f.tenantId}, "kinds": []string{"a", "b"}}),
		f.log("d1", map[string]any{"code": "ABC"}),
		f.log("d2", map[string]any{"code": "abcdefghijk"}),
		f.log("d3", map[string]any{"event_id": strings.Repeat("é", 33)}),
		f.log("e1", map[string]any{"tokens": 1.5}),
		f.log("e2", map[string]any{"tokens": -1}),
		f.log("e3", map[string]any{"ratio": 2}),
		f.log("e4", map[string]any{"kinds": []string{"a", "b", "c"}}),
		f.log("e5", map[string]any{"kinds": []string{"x"}}),
		f.log("e6", map[string]any{"email": "nope"}),
		f.log("e7", map[string]any{"site": "nope"}),
		f.log("e8", map[string]any{"place": map[string]any{"lat": 100, "lon": 1}}),
		f.log("e9", map[string]any{"kind": "", "tokens": 1.5, "email": "x", "tenant": "doesnotexist123"}),
		f.log("f1", map[string]any{"id": "log_sentid000000001"}),
		f.log("f2", map[string]any{"id": "log_sentid000000001"}), // the id f1 took in this request
		f.log("f3", map[string]any{"id": "log_takenid00000001"}),
		f.log("f4", map[string]any{"id": "LOG_TAKENID00000001"}),
		f.log("f5", map[string]any{"id": "bad id!"}),
		f.log("g1", map[string]any{"meta": `{"a":1}`, "at": "not a date", "slug": "given", "flag": "true"}),
		f.log("stored2", map[string]any{"tags": []string{"doesnotexist123"}}), // stored, a relation missing: a duplicate
	}
	if spread > 0 {
		spreadRecords := make([]map[string]any, 0, len(records)*(spread+1))
		for i, record := range records {
			spreadRecords = append(spreadRecords, record)
			for j := range spread {
				spreadRecords = append(spreadRecords, f.log(fmt.Sprint("filler", i, "_", j), nil))
			}
		}
		records = spreadRecords
	}
	_, results, raw := f.post(t, f.keyed(records...))
	if len(results) != len(records) {
		t.Fatalf("expected %d results, got %.300s", len(records), raw)
	}
	answers = append(answers, results...)
	for i, result := range results {
		if _, sent := records[i]["id"]; result.Status == "created" && !sent {
			labels[result.Id] = fmt.Sprint("record ", i)
		}
	}

	// Without unique_by a repeated key is the unique index's error.
	_, results, raw = f.post(t, map[string]any{"records": []map[string]any{f.log("h1", nil), f.log("h1", nil)}})
	if len(results) != 2 {
		t.Fatalf("expected 2 results, got %s", raw)
	}
	answers = append(answers, results...)
	for i, result := range results {
		if result.Status == "created" {
			labels[result.Id] = fmt.Sprint("unkeyed record ", i)
		}
	}

	described := make([]string, len(answers))
	for i, answer := range answers {
		label, ok := labels[answer.Id]
		if !ok {
			label = answer.Id // a sent id
		}
		data, _ := json.Marshal(answer.Data)
		described[i] = fmt.Sprintf("%d %s %s %s %s %s", i, answer.Status, label, answer.Code, answer.Message, data)
	}
	return described
}

// A row written by the fast path is stored exactly as Save stores it: same SQLite type and bytes in every
// column but the id, the key and the autodates (whose format matches).
func TestBulkInsertStoresRowsAsSave(t *testing.T) {
	f := newBulkFixture(t, false)
	full := map[string]any{
		"tags":  []string{f.tenantId},
		"code":  "abc",
		"slug":  "slug",
		"ratio": 0.25,
		"flag":  true,
		"kind":  "b",
		"kinds": []string{"c", "a"},
		"meta":  map[string]any{"nested": []any{1, "two", nil, true}, "n": 1.5},
		"at":    "2026-11-05T10:20:30.123Z",
		"email": "a@b.test",
		"site":  "https://example.test/x",
		"body":  "<p>hi</p>",
		"place": map[string]any{"lat": 45.5, "lon": -3.25},
	}
	for name, data := range map[string]map[string]any{"full": full, "sparse": {}, "null json": {"meta": nil}} {
		t.Run(name, func(t *testing.T) {
			saved := f.save(t, f.log(name+" saved", data))
			_, results, raw := f.post(t, f.keyed(f.log(name+" bulk", data)))
			if len(results) != 1 || results[0].Status != "created" {
				t.Fatalf("expected created, got %s", raw)
			}
			if !regexp.MustCompile(`^log_[a-z0-9]{15}$`).MatchString(results[0].Id) {
				t.Errorf("id %q does not follow the autogenerate pattern", results[0].Id)
			}

			savedRow, bulkRow := f.storedRow(t, saved.Id), f.storedRow(t, results[0].Id)
			for _, column := range f.logs.Fields.FieldNames() {
				switch column {
				case "id", "event_id":
				case "created", "updated":
					pattern := regexp.MustCompile(`^'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z'$`)
					if !pattern.MatchString(bulkRow[column]) || !pattern.MatchString(savedRow[column]) {
						t.Errorf("%s: bulk %s, save %s", column, bulkRow[column], savedRow[column])
					}
				case "slug":
					// Autogenerated unless given: compared by its pattern then.
					if _, given := data["slug"]; !given {
						if !regexp.MustCompile(`^text '[a-z]{6}'$`).MatchString(bulkRow[column]) {
							t.Errorf("slug: bulk %s", bulkRow[column])
						}
						continue
					}
					if bulkRow[column] != savedRow[column] {
						t.Errorf("%s: bulk %s, save %s", column, bulkRow[column], savedRow[column])
					}
				default:
					if bulkRow[column] != savedRow[column] {
						t.Errorf("%s: bulk %s, save %s", column, bulkRow[column], savedRow[column])
					}
				}
			}

			// And read back through the app (as the records API does), both records are equal.
			bulk, err := f.app.FindRecordById(f.logs, results[0].Id)
			must(t, err)
			reloaded, err := f.app.FindRecordById(f.logs, saved.Id)
			must(t, err)
			bulkData, savedData := bulk.PublicExport(), reloaded.PublicExport()
			for _, ignored := range []string{"id", "event_id", "created", "updated", "slug"} {
				delete(bulkData, ignored)
				delete(savedData, ignored)
			}
			a, _ := json.Marshal(bulkData)
			b, _ := json.Marshal(savedData)
			if string(a) != string(b) {
				t.Errorf("read back differently:\nbulk %s\nsave %s", a, b)
			}
		})
	}
}

// storedRow is every column of a row as SQLite's type and quote(), e.g. "integer 1" or "text 'a'".
func (f *bulkFixture) storedRow(t testing.TB, id string) map[string]string {
	t.Helper()
	names := f.logs.Fields.FieldNames()
	selects := make([]string, len(names))
	for i, name := range names {
		selects[i] = fmt.Sprintf("typeof([[%s]]) || ' ' || quote([[%s]]) AS [[%s]]", name, name, name)
	}
	row := dbx.NullStringMap{}
	err := f.app.DB().NewQuery("SELECT " + strings.Join(selects, ", ") + " FROM {{logs}} WHERE id = {:id}").
		Bind(dbx.Params{"id": id}).One(row)
	must(t, err)
	values := map[string]string{}
	for name, value := range row {
		values[name] = value.String
	}
	// The autodates are compared by format: keep only the quoted value.
	for _, name := range []string{"created", "updated"} {
		values[name] = strings.TrimPrefix(values[name], "text ")
	}
	return values
}

func TestBulkInsertSetsTheAutodatesOnce(t *testing.T) {
	f := newBulkFixture(t, false)
	before := types.NowDateTime()
	_, results, _ := f.post(t, f.keyed(f.log("x1", nil), f.log("x2", nil)))
	for _, result := range results {
		record, err := f.app.FindRecordById(f.logs, result.Id)
		must(t, err)
		created, updated := record.GetDateTime("created"), record.GetDateTime("updated")
		if created.Time().Before(before.Time().Truncate(time.Millisecond)) || !created.Equal(updated) {
			t.Fatalf("created %s, updated %s (before %s)", created, updated, before)
		}
	}
}

func TestBulkInsertReportsARowAConcurrentWriterCommittedAsDuplicate(t *testing.T) {
	const racedId = "log_racedrow0000001"
	bothPaths(t, func(t *testing.T, f *bulkFixture) {
		// Commits the same key between the route's lookup and its insert. A trigger does on the fast path (its
		// statement succeeds, so the trigger's row stays); a hook does on the Save path (a failing statement
		// takes its trigger's row with it).
		f.exec(t, `CREATE TRIGGER race BEFORE INSERT ON logs WHEN NEW.event_id = 'raced' AND NEW.id != '`+racedId+`'
			AND NOT EXISTS (SELECT 1 FROM logs WHERE id = '`+racedId+`')
			BEGIN INSERT INTO logs (id, tenant, event_id, kind) VALUES ('`+racedId+`', NEW.tenant, 'raced', 'a'); END`)
		raced := false
		f.app.OnRecordCreate("logs").BindFunc(func(e *core.RecordEvent) error {
			if e.Record.GetString("event_id") == "raced" && !raced {
				raced = true
				record := core.NewRecord(f.logs)
				record.Load(f.log("raced", map[string]any{"id": racedId}))
				if err := e.App.Save(record); err != nil {
					return err
				}
			}
			return e.Next()
		})

		_, results, raw := f.post(t, f.keyed(f.log("first", nil), f.log("raced", nil), f.log("last", nil)))
		if len(results) != 3 {
			t.Fatalf("unexpected answer %s", raw)
		}
		statuses := fmt.Sprint(results[0].Status, results[1].Status, results[2].Status)
		if statuses != "createdduplicatecreated" || results[1].Id != racedId {
			t.Fatalf("unexpected results %+v", results)
		}
		if n := f.countLogs(t); n != 3 {
			t.Fatalf("expected 3 rows, got %d", n)
		}
	})
}

// unique_by need not have a unique index: a key no index enforces is looked up for every record (where one
// is enforced, the fast path lets the index find the stored rows of valid records).
func TestBulkInsertFindsStoredKeysNoUniqueIndexEnforces(t *testing.T) {
	logs := newBulkFixture(t, false).logs
	if uniqueIndexWithin(logs, []string{"tenant", "code"}) || uniqueIndexWithin(logs, []string{"event_id"}) {
		t.Fatal("no unique index covers (tenant, code) or (event_id) only")
	}
	if !uniqueIndexWithin(logs, []string{"event_id", "tenant"}) || !uniqueIndexWithin(logs, []string{"tenant", "event_id", "code"}) {
		t.Fatal("idx_logs_tenant_event_id covers (tenant, event_id), in any order and within a larger key")
	}
	bothPaths(t, func(t *testing.T, f *bulkFixture) {
		stored := f.save(t, f.log("s1", map[string]any{"code": "abc"}))
		body := map[string]any{"unique_by": []string{"tenant", "code"}, "records": []map[string]any{
			f.log("n1", map[string]any{"code": "abc"}),
			f.log("n2", map[string]any{"code": "xyz"}),
			f.log("n3", map[string]any{"code": "xyz"}),
		}}
		_, results, raw := f.post(t, body)
		if len(results) != 3 {
			t.Fatalf("unexpected answer %s", raw)
		}
		if results[0].Status != "duplicate" || results[0].Id != stored.Id || results[1].Status != "created" ||
			results[2].Status != "duplicate" || results[2].Id != results[1].Id {
			t.Fatalf("unexpected results %+v", results)
		}
		if n := f.countLogs(t); n != 2 {
			t.Fatalf("expected 2 rows, got %d", n)
		}
	})
}

func TestBulkInsertWritesNothingWhenTheTransactionFails(t *testing.T) {
	bothPaths(t, func(t *testing.T, f *bulkFixture) {
		f.exec(t, `CREATE TRIGGER broken BEFORE INSERT ON logs WHEN NEW.event_id = 'broken'
			BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`)

		status, _, raw := f.post(t, f.keyed(f.log("fine", nil), f.log("broken", nil)))
		if status != http.StatusInternalServerError || !strings.Contains(raw, "The bulk insert transaction failed.") {
			t.Fatalf("expected a 500, got %d %s", status, raw)
		}
		if n := f.countLogs(t); n != 0 {
			t.Fatalf("expected no rows after a failed transaction, got %d", n)
		}
	})
}

// The documented difference: record hooks fire on the Save path only.
func TestBulkInsertRunsRecordHooksOnTheSavePathOnly(t *testing.T) {
	for savePath, want := range map[bool]int{false: 0, true: 2} {
		f := newBulkFixture(t, savePath)
		calls := 0
		f.app.OnRecordCreate("logs").BindFunc(func(e *core.RecordEvent) error {
			calls++
			return e.Next()
		})
		_, results, raw := f.post(t, f.keyed(f.log("h1", nil), f.log("h2", nil)))
		if len(results) != 2 || results[0].Status != "created" || results[1].Status != "created" {
			t.Fatalf("unexpected answer %s", raw)
		}
		if calls != want {
			t.Errorf("save path %v: %d hook calls, want %d", savePath, calls, want)
		}
	}
}

// Enough records for several groups of the pipeline and statements of each size, prepared by the decoder
// (up to 2 cores) or by workers.
func TestBulkInsertWritesLargeRequests(t *testing.T) {
	for _, procs := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(procs, " cores"), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			testLargeRequest(t, newBulkFixture(t, false))
		})
	}
}

func testLargeRequest(t *testing.T, f *bulkFixture) {
	count := 3*bulkGroupRecords + bulkStatementRows + 3
	records := make([]map[string]any, 0, count+1)
	for i := range count {
		overrides := map[string]any{"tokens": i + 1}
		if i%7 == 3 {
			overrides["kind"] = "z"
		}
		records = append(records, f.log(fmt.Sprint("big", i), overrides))
	}
	// The last records repeat the first one's key (a duplicate), and the key of a failed one (written).
	records = append(records, f.log("big0", nil), f.log("big3", nil))
	_, results, raw := f.post(t, f.keyed(records...))
	if len(results) != len(records) {
		t.Fatalf("unexpected answer %.300s", raw)
	}
	ids := map[string]bool{}
	for i, result := range results[:count] {
		want := "created"
		if i%7 == 3 {
			want = "failed"
		}
		if result.Status != want || ids[result.Id] {
			t.Fatalf("record %d: %+v", i, result)
		}
		if result.Status == "failed" && !strings.Contains(result.Message, "kind: Invalid value z") {
			t.Fatalf("record %d: %+v", i, result)
		}
		if result.Id != "" {
			ids[result.Id] = true
		}
	}
	if last := results[count]; last.Status != "duplicate" || last.Id != results[0].Id {
		t.Fatalf("expected a duplicate of %s, got %+v", results[0].Id, last)
	}
	if last := results[count+1]; last.Status != "created" || ids[last.Id] {
		t.Fatalf("expected big3 to be written, got %+v", last)
	}
	ids[results[count+1].Id] = true
	if n := f.countLogs(t); n != len(ids) {
		t.Fatalf("expected %d rows, got %d", len(ids), n)
	}
	for _, i := range []int{0, bulkStatementRows + 1, count - 1} {
		record, err := f.app.FindRecordById(f.logs, results[i].Id)
		must(t, err)
		if record.GetString("event_id") != fmt.Sprint("big", i) || record.GetInt("tokens") != i+1 {
			t.Fatalf("record %d stored as %v", i, record.PublicExport())
		}
	}
}

// The fast path starts writing while it decodes the body: a body found malformed after its first groups
// still writes nothing.
func TestBulkInsertWritesNothingForABodyFoundInvalidLate(t *testing.T) {
	f := newBulkFixture(t, false)
	valid := func(n int) []any {
		records := make([]any, n)
		for i := range records {
			records[i] = f.log(fmt.Sprint("late", i), nil)
		}
		return records
	}
	bodies := map[string]struct {
		body any
		want string
	}{
		"a null record": {
			map[string]any{"unique_by": []string{"tenant", "event_id"}, "records": append(valid(3*bulkGroupRecords), nil)},
			`"records":{"code":"validation_invalid_record"`,
		},
		"too many records": {
			map[string]any{"unique_by": []string{"tenant", "event_id"}, "records": valid(bulkMaxRecords + 1)},
			`"records":{"code":"validation_length_out_of_range"`,
		},
		"a record that is not an object": {
			map[string]any{"unique_by": []string{"tenant", "event_id"}, "records": append(valid(3*bulkGroupRecords), 7)},
			`"body":{"code":"validation_invalid_body"`,
		},
	}
	for name, test := range bodies {
		t.Run(name, func(t *testing.T) {
			status, _, raw := f.post(t, test.body)
			if status != http.StatusBadRequest || !strings.Contains(raw, test.want) {
				t.Fatalf("expected a 400 with %s, got %d %.300s", test.want, status, raw)
			}
			if n := f.countLogs(t); n != 0 {
				t.Fatalf("expected no rows, got %d", n)
			}
		})
	}
	// An unknown key after the records: encoded by hand, as json.Marshal sorts the keys.
	records, _ := json.Marshal(valid(3 * bulkGroupRecords))
	body := `{"unique_by":["tenant","event_id"],"records":` + string(records) + `,"uniqueBy":[]}`
	status, _, raw := f.post(t, json.RawMessage(body))
	if status != http.StatusBadRequest || !strings.Contains(raw, `"body":{"code":"validation_invalid_body"`) {
		t.Fatalf("expected a 400 naming the body, got %d %.300s", status, raw)
	}
	if n := f.countLogs(t); n != 0 {
		t.Fatalf("expected no rows, got %d", n)
	}
	// And the same records in a well-formed body are written.
	_, results, raw := f.post(t, json.RawMessage(`{"unique_by":["tenant","event_id"],"records":`+string(records)+`}`))
	if len(results) != 3*bulkGroupRecords || results[0].Status != "created" {
		t.Fatalf("unexpected answer %.300s", raw)
	}
}

func TestBulkInsertRejectsUnknownUniqueByFields(t *testing.T) {
	f := newBulkFixture(t, false)
	status, _, raw := f.post(t, map[string]any{"unique_by": []string{"tenant", "nope"}, "records": []map[string]any{{"event_id": "a"}}})
	if status != http.StatusBadRequest || !strings.Contains(raw, `"unique_by":{"code":"validation_unknown_field"`) {
		t.Fatalf("expected a 400 naming unique_by, got %d %s", status, raw)
	}
}

// Generated ids of a `<prefix>[a-z0-9]{N}` pattern: the pattern's shape, the creation time first (so they sort
// by creation), and never two alike, even thousands within one millisecond.
func TestTimeOrderedIds(t *testing.T) {
	plan := &fastFields{primaryKey: &core.TextField{AutogeneratePattern: "use_[a-z0-9]{15}"}}
	if m := timeIdPattern.FindStringSubmatch(plan.primaryKey.AutogeneratePattern); m != nil {
		plan.idPrefix, plan.idRandom = m[1], 15-timeIdChars
	}
	shape := regexp.MustCompile(`^use_[a-z0-9]{15}$`)
	seen := map[string]bool{}
	previous := ""
	before := time.Now().UnixMilli()
	for i := 0; i < 50_000; i++ {
		id, ok := plan.timeId()
		if !ok || !shape.MatchString(id) {
			t.Fatalf("id %q does not follow the pattern", id)
		}
		if seen[id] {
			t.Fatalf("id %q generated twice", id)
		}
		seen[id] = true
		if id[:4+timeIdChars] < previous {
			t.Fatalf("id %q is older than the one before (%q)", id, previous)
		}
		previous = id[:4+timeIdChars]
	}
	if stamp := previous[4:]; stamp < base36(uint64(before), timeIdChars) {
		t.Fatalf("time part %q is before the test started", stamp)
	}
	// PocketBase's default pattern gets the same treatment; other patterns keep PocketBase's generator.
	if m := timeIdPattern.FindStringSubmatch("[a-z0-9]{15}"); m == nil || m[1] != "" || m[2] != "15" {
		t.Fatalf("default pattern not recognised: %v", m)
	}
	if timeIdPattern.MatchString("[A-Z]{15}") {
		t.Fatal("a pattern of another alphabet must keep PocketBase's generator")
	}
}

// A generated id's check (its pattern compiled once) answers as PocketBase's ValidatePlainValue for ids of the
// autogenerate alphabets, valid or not.
func TestValidateGeneratedIdAnswersAsPocketBase(t *testing.T) {
	fields := []*core.TextField{
		{Name: "id", PrimaryKey: true, Required: true, Min: 3, Max: 24, Pattern: "^[a-z0-9_]+$"},
		{Name: "id", PrimaryKey: true, Required: true, Pattern: "^[a-z0-9]+$"},
		{Name: "id", PrimaryKey: true, Required: true, Pattern: "^log_[a-z]+$"},
		{Name: "id", PrimaryKey: true, Required: true},
		{Name: "id", PrimaryKey: true, Pattern: "^[a-z"},                          // does not compile: matches nothing
		{Name: "id", PrimaryKey: true, Required: true, Pattern: defaultIdPattern}, // no character checks
		{Name: "id", PrimaryKey: true, Required: true, Pattern: "^[a-z]{5,}$"},
		{Name: "id", PrimaryKey: true, Required: true, Pattern: "^[a-z0-9_.]+$"},
		{Name: "slug", Pattern: "^[a-z.]+$"}, // not a primary key: no character checks
	}
	ids := []string{"", "ab", "log_0abc", "log_abc", "abc123", strings.Repeat("a", 30), "log_abcdefghijklmnopqrst",
		"con", "com1", "a.b", "abc.def", "con.x"}
	code := func(err error) string {
		if err == nil {
			return "ok"
		}
		return fmt.Sprint(err)
	}
	checked := 0
	for _, field := range fields {
		for _, id := range ids {
			for range 2 { // compiled, then from the cache
				want, got := code(field.ValidatePlainValue(id)), code(validateGeneratedId(field, id))
				if want != got {
					t.Errorf("pattern %q, id %q: PocketBase %q, ours %q", field.Pattern, id, want, got)
				}
				if want != "ok" {
					checked++
				}
			}
		}
	}
	if checked < 40 {
		t.Fatalf("only %d failing cases: the table checks too little", checked)
	}
}
