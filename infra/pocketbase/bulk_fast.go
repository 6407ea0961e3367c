package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/core/validators"
	"github.com/pocketbase/pocketbase/tools/list"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/pocketbase/pocketbase/tools/security"
	"github.com/pocketbase/pocketbase/tools/types"
)

// timeIdPattern is an autogenerate pattern of the form `<prefix>[a-z0-9]{N}`, the shape of ours and of
// PocketBase's default.
var timeIdPattern = regexp.MustCompile(`^([a-z0-9_]*)\[a-z0-9\]\{(\d+)\}$`)

// timeIdChars is the creation time's share of a time-ordered id: milliseconds in base 36 (to the year 5188).
const timeIdChars = 9

// timeIdAlphabet is the pattern's own alphabet.
const timeIdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// timeIdSeqChars is the sequence's share of a time-ordered id's rest (36^12 < 2^64).
const timeIdSeqChars = 12

// timeIdSeq numbers the time-ordered ids of this process from a random start, so two ids never share their
// rest (it wraps after 36^6 ≈ 2.2e9 ids for usage_logs' 6 characters, far beyond one millisecond's rows).
var timeIdSeq atomic.Uint64

func init() {
	start, _ := strconv.ParseUint(security.RandomStringWithAlphabet(12, "0123456789"), 10, 64)
	timeIdSeq.Store(start)
}

// The fast path of the bulk route: the records are validated in memory with the collection's own field
// definitions and written with multi-row INSERTs, instead of one app.Save per record. A Save costs ~250-300 µs
// a row (an id-uniqueness SELECT and a SELECT per relation, dbx statement building, hooks), which capped
// usage_logs near 4k rows/s on one core.
//
// What it keeps from Save:
//   - values: the fields' setters and PrepareValue (as record.Load) and record.DBExport (the fields' driver
//     values), bound through the same dbx/driver path as Save, so a row is stored byte for byte as Save stores
//     it and reads back identically through the records API and the SDK;
//   - validation: every field's own ValidateValue, except the two checks that read the database: a relation
//     field's existence check, done here once per distinct id and request (checkRelations), and the primary
//     key's uniqueness check, skipped for the ids generated here (see prepare);
//   - errors: PocketBase's validation.Errors, in its {field: {code, message}} shape.
//
// What it does not do: record hooks (OnRecordValidate, OnRecordCreate, OnModelCreate, ...) and realtime
// events do not fire. The one record hook this host registers for the collection written through this route
// (usage_logs: its period sums, usage_sums.go) is done here by the writer instead, in the same transaction;
// this host has no pb_hooks. Collections whose fields need more than the above (file and
// password fields, field types of plugins, relations to the collection itself, which a later record of the
// same request may reference) take the Save path, with hooks.
//
// The work is a pipeline over groups of bulkGroupRecords records, the body being read into memory first: as
// the body is decoded, each group is prepared (load, validation, values, and the lookup of its keys already
// stored, on the read connections; by the decoder itself on two cores, see bulkWorkers), and the writer's
// transaction writes the groups in order, each as soon as it is ready. It commits once the whole body turned
// out valid, and rolls back otherwise (a 400 with nothing written, as before). On a 2-core machine, 20,000
// usage_logs rows through packages/db bulkInsert (chunks of 1,000, fresh database) went from ~4k rows/s with
// Save to ~13-16k rows/s; the transaction's SQLite work (ten b-trees per row, four of them keyed at random)
// is then most of the time, and grows with the table.

// bulkGroupRecords is the records of one group of the pipeline.
const bulkGroupRecords = 128

// bulkStatementRows is the rows of one INSERT. Under modernc's sqlite driver, which matches each bound value
// to its parameter with a linear scan of the arguments, 1,000 usage_logs rows (33 columns) in one statement
// took 3x as long as in statements of 8 rows, which measured fastest (1 to 32 tried). With SQLite's C build
// (sqlite_driver.go) 8, 32 and 128 rows measured the same (BenchmarkBulkInsert).
const bulkStatementRows = 8

// bulkInsertValues bounds the bound values of one INSERT (SQLite allows 32766).
const bulkInsertValues = 32000

// fastFields is how the fast path handles each field of a collection.
type fastFields struct {
	byName     map[string]core.Field
	primaryKey *core.TextField
	texts      []*core.TextField // the ones with an autogenerate pattern
	relations  []*core.RelationField
	autodates  []*core.AutodateField
	// idPrefix and idRandom, when idRandom > 0: generated ids start with their creation time (see timeId).
	idPrefix string
	idRandom int
}

// timeId is an id of the primary key's pattern `<prefix>[a-z0-9]{N}` whose first 9 characters after the
// prefix are the creation time in ms (base 36): the table's primary-key index then grows at its end instead of
// at random places (usage_logs: ~1.5× the insert rate at a million rows). The rest is this process's sequence
// (its last up to 12 characters, see timeIdSeq) after random characters for any beyond, so no two ids of one
// PocketBase share a value; a clash with an id sent by a client is still retried by insertOne.
func (plan *fastFields) timeId() (string, bool) {
	if plan.idRandom <= 0 {
		return "", false
	}
	seqChars := min(plan.idRandom, timeIdSeqChars)
	seq := timeIdSeq.Add(1)
	if seqChars < timeIdSeqChars {
		seq %= pow36(seqChars)
	}
	return plan.idPrefix + base36(uint64(time.Now().UnixMilli()), timeIdChars) +
		security.RandomStringWithAlphabet(plan.idRandom-seqChars, timeIdAlphabet) + base36(seq, seqChars), true
}

func pow36(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 36
	}
	return p
}

// base36 is value in base 36 (digits then lower-case letters, so it sorts like the number), zero-padded to width.
func base36(value uint64, width int) string {
	digits := strconv.FormatUint(value, 36)
	if len(digits) < width {
		digits = strings.Repeat("0", width-len(digits)) + digits
	}
	return digits
}

// newFastFields is nil when a field of collection needs the Save path.
func newFastFields(collection *core.Collection) *fastFields {
	plan := &fastFields{byName: make(map[string]core.Field, len(collection.Fields))}
	for _, field := range collection.Fields {
		plan.byName[field.GetName()] = field
		switch f := field.(type) {
		case *core.TextField:
			if f.PrimaryKey {
				plan.primaryKey = f
			}
			if f.AutogeneratePattern != "" {
				plan.texts = append(plan.texts, f)
			}
		case *core.RelationField:
			if f.CollectionId == collection.Id {
				return nil
			}
			plan.relations = append(plan.relations, f)
		case *core.AutodateField:
			plan.autodates = append(plan.autodates, f)
		// ValidateValue of these reads only the record, and they intercept no record action.
		case *core.NumberField, *core.BoolField, *core.EmailField, *core.URLField, *core.EditorField,
			*core.DateField, *core.SelectField, *core.JSONField, *core.GeoPointField:
		default:
			return nil
		}
	}
	if plan.primaryKey == nil {
		return nil
	}
	// Only where at least 6 random characters remain after the time.
	if m := timeIdPattern.FindStringSubmatch(plan.primaryKey.AutogeneratePattern); m != nil {
		if n, err := strconv.Atoi(m[2]); err == nil && n >= timeIdChars+6 {
			plan.idPrefix, plan.idRandom = m[1], n-timeIdChars
		}
	}
	return plan
}

// load is record.Load(data) without its scan of every field's setters for every key (a third of the route's
// time for usage_logs): a key naming a field is set by that field's setter, or its PrepareValue, as
// Record.SetIfFieldExists does. No other field claims such a key, since the keys fields claim besides their
// name carry a modifier ("+", "-", ":autogenerate") that a field name (^\w+$) cannot hold. Other keys
// (modifiers, unknown keys) go through record.Set.
func (plan *fastFields) load(record *core.Record, data map[string]any) {
	for key, value := range data {
		field := plan.byName[key]
		if field == nil || key == core.FieldNameExpand {
			record.Set(key, value)
			continue
		}
		if finder, ok := field.(core.SetterFinder); ok {
			if setter := finder.FindSetter(key); setter != nil {
				setter(record, value)
				continue
			}
		}
		prepared, _ := field.PrepareValue(record, value)
		record.SetRaw(key, prepared)
	}
}

// bulkRow is one record of a request on the fast path.
type bulkRow struct {
	data      map[string]any
	record    *core.Record
	key       string            // its unique_by values, when keyed
	errs      validation.Errors // nil when valid
	generated bool              // whether its id was generated here rather than sent
	relations [][]string        // the ids of each of fastFields.relations
	lookedUp  bool              // whether prepareGroup looked up its key (see prepareGroup)
	values    []any             // when valid: record.DBExport's values, in column order
	result    bulkResult
}

// bulkGroup is bulkGroupRecords rows (fewer for the last one), prepared by one goroutine.
type bulkGroup struct {
	rows   []*bulkRow
	stored map[string]string // the ids of its keys already stored
	err    error
	done   chan struct{} // closed once prepared
}

// fastInsert is one request on the fast path.
type fastInsert struct {
	app        core.App
	ctx        context.Context
	fields     *fastFields
	collection *core.Collection
	columns    []string
	idColumn   int
	now        types.DateTime // the autodates of every record

	// Set by the decoder before it dispatches the first group; read-only afterwards.
	uniqueBy []string
	keyed    bool
	// keyEnforced: a unique index rejects a second row of a key (see prepareGroup).
	keyEnforced bool

	// Used by the handler's goroutine only.
	rows       []*bulkRow // capacity bulkMaxRecords, never reallocated while groups are prepared
	groups     int
	dispatched int             // rows handed to groups
	dispatch   bool            // whether groups are handed out as they fill up
	queue      chan *bulkGroup // to the workers
	ordered    chan *bulkGroup // to the writer, in request order
	writing    bool
	memo       textMemo // for prepareInline

	workers    sync.WaitGroup
	stopped    atomic.Bool // the request is answered: the workers skip what is left
	commit     atomic.Bool // the body is whole and valid: the writer commits
	writerDone chan struct{}
	writerErr  error

	sums       usageSums                               // usage_logs: the sums of the rows created (usage_sums.go)
	statements map[int]*insertStatement                // prepared INSERTs by row count (negative: without the conflict clause)
	related    map[*core.RelationField]map[string]bool // relation ids checked so far: whether they exist
}

const maxGroups = (bulkMaxRecords + bulkGroupRecords - 1) / bulkGroupRecords

// errAborted is the writer's answer to a body found malformed after it started: nothing is committed.
var errAborted = errors.New("bulk insert aborted: the body is not valid")

// errPrepare marks an error preparing records (not a database error of the transaction).
type errPrepare struct{ error }

func (e errPrepare) Unwrap() error { return e.error }

func newFastInsert(ctx context.Context, app core.App, fields *fastFields, collection *core.Collection) *fastInsert {
	columns := collection.Fields.FieldNames()
	idColumn := 0
	for c, column := range columns {
		if column == core.FieldNameId {
			idColumn = c
		}
	}
	return &fastInsert{
		app:        app,
		ctx:        ctx,
		fields:     fields,
		collection: collection,
		columns:    columns,
		idColumn:   idColumn,
		now:        types.NowDateTime(),
		rows:       make([]*bulkRow, 0, bulkMaxRecords),
		queue:      make(chan *bulkGroup, maxGroups),
		ordered:    make(chan *bulkGroup, maxGroups),
		writerDone: make(chan struct{}),
		statements: map[int]*insertStatement{},
		sums:       sumsFor(collection),
		related:    map[*core.RelationField]map[string]bool{},
	}
}

// setUniqueBy is called by the decoder with a well-formed unique_by, before any record or once the body is
// read; from then on full groups are dispatched as records arrive.
func (f *fastInsert) setUniqueBy(uniqueBy []string) {
	f.uniqueBy = uniqueBy
	f.keyed = len(uniqueBy) > 0
	f.keyEnforced = f.keyed && uniqueIndexWithin(f.collection, uniqueBy)
	f.dispatch = true
	f.dispatchGroups(false)
}

// addRecord is called by the decoder for each record, in order. Records past bulkMaxRecords are not kept:
// the request is refused.
func (f *fastInsert) addRecord(data map[string]any) {
	if len(f.rows) == cap(f.rows) {
		return
	}
	f.rows = append(f.rows, &bulkRow{data: data})
	f.dispatchGroups(false)
}

// dispatchGroups hands the full groups of undispatched rows (all of them when final) to the workers and the
// writer, starting them with the first groups.
func (f *fastInsert) dispatchGroups(final bool) {
	if !f.dispatch {
		return
	}
	for len(f.rows)-f.dispatched >= bulkGroupRecords || (final && len(f.rows) > f.dispatched) {
		hi := min(f.dispatched+bulkGroupRecords, len(f.rows))
		group := &bulkGroup{rows: f.rows[f.dispatched:hi], done: make(chan struct{})}
		f.dispatched = hi
		f.groups++
		if !f.writing {
			f.writing = true
			ordered := f.ordered
			go f.writeGroups(ordered)
		}
		f.ordered <- group
		if workers := bulkWorkers(); workers == 0 {
			f.prepareInline(group)
		} else {
			if f.groups <= workers {
				queue := f.queue
				f.workers.Go(func() { f.work(queue) })
			}
			f.queue <- group
		}
	}
}

// bulkWorkers is the goroutines preparing groups besides the decoder and the writer, one per remaining core.
// On two cores there are none: the decoder prepares each group itself, and the writer has the other core.
// (A goroutine more than cores, all busy, made the writer wait up to the scheduler's 10 ms time slice.)
func bulkWorkers() int {
	return max(0, runtime.GOMAXPROCS(0)-2)
}

// prepareInline prepares group on the decoder's goroutine.
func (f *fastInsert) prepareInline(group *bulkGroup) {
	if f.memo == nil {
		f.memo = textMemo{}
	}
	f.prepareSafely(group, f.memo)
}

// work prepares queued groups until the queue closes.
func (f *fastInsert) work(queue <-chan *bulkGroup) {
	memo := textMemo{}
	for group := range queue {
		f.prepareSafely(group, memo)
	}
}

// prepareSafely prepares group and marks it done, whatever happens: the writer waits for it, and a panic
// outside the request's goroutine would take the server down.
func (f *fastInsert) prepareSafely(group *bulkGroup, memo textMemo) {
	defer close(group.done)
	defer func() {
		if r := recover(); r != nil {
			group.err = errPrepare{fmt.Errorf("panic: %v", r)}
		}
	}()
	if f.stopped.Load() {
		group.err = errAborted
		return
	}
	group.err = f.prepareGroup(group, memo)
}

// write runs once the body is whole and valid: it hands out the last records, lets the writer commit, and
// returns the outcomes in request order.
func (f *fastInsert) write() ([]bulkResult, error) {
	f.dispatch = true
	f.dispatchGroups(true)
	if !f.writing {
		return []bulkResult{}, nil // no records
	}
	f.commit.Store(true)
	f.closeChannels()
	<-f.writerDone
	if f.writerErr != nil {
		return nil, f.writerErr
	}
	results := make([]bulkResult, len(f.rows))
	for i, row := range f.rows {
		results[i] = row.result
	}
	return results, nil
}

// stop ends the workers (after their current group) and the writer, which rolls back unless write let it
// commit; call it once the request is answered.
func (f *fastInsert) stop() {
	f.stopped.Store(true)
	f.closeChannels()
	f.workers.Wait()
	if f.writing {
		<-f.writerDone
	}
}

func (f *fastInsert) closeChannels() {
	if f.queue != nil {
		close(f.queue)
		close(f.ordered)
		f.queue, f.ordered = nil, nil
	}
}

// writeGroups is the writer: one transaction that writes the groups in request order, each once prepared,
// and commits when the body turned out whole and valid. It starts with the first group, while the body is
// still being decoded (from memory: the transaction never waits on the client).
func (f *fastInsert) writeGroups(ordered <-chan *bulkGroup) {
	defer close(f.writerDone)
	defer func() {
		// Not the request's goroutine: PocketBase's recovery does not cover it (dbx rolled back already).
		if r := recover(); r != nil {
			f.writerErr = fmt.Errorf("bulk insert writer panic: %v", r)
		}
	}()
	f.writerErr = f.app.RunInTransaction(func(txApp core.App) error {
		defer f.closeStatements()
		// The ids of the keys stored or written so far in the request.
		known := map[string]string{}
		for group := range ordered {
			<-group.done
			if group.err != nil {
				return group.err
			}
			if f.stopped.Load() {
				return errAborted
			}
			// The lookup did not see the rows written earlier in the request: known has them.
			for key, id := range group.stored {
				if _, ok := known[key]; !ok {
					known[key] = id
				}
			}
			if err := f.checkRelations(txApp, group.rows); err != nil {
				return err
			}
			if err := f.lookUpInvalidated(txApp, group.rows, known); err != nil {
				return err
			}
			if err := f.writeRows(txApp, group.rows, known); err != nil {
				return err
			}
		}
		if !f.commit.Load() {
			return errAborted
		}
		// In the same transaction as the rows: the sums never disagree with the stored logs.
		return f.sums.write(txApp)
	})
}

// lookUpInvalidated looks up, in the transaction, the keys of rows that prepareGroup did not look up (valid
// then) but checkRelations found invalid (a related row missing): a record whose key is stored is a duplicate
// even when invalid.
func (f *fastInsert) lookUpInvalidated(txApp core.App, rows []*bulkRow, known map[string]string) error {
	var records []*core.Record
	var keys []string
	for _, row := range rows {
		if f.keyed && !row.lookedUp && row.errs != nil {
			if _, ok := known[row.key]; !ok {
				records, keys = append(records, row.record), append(keys, row.key)
			}
		}
	}
	if len(records) == 0 {
		return nil
	}
	found, err := findExistingKeys(txApp, f.collection, f.uniqueBy, records, keys)
	if err != nil {
		return fmt.Errorf("looking up existing keys: %w", err)
	}
	maps.Copy(known, found)
	return nil
}

// prepareGroup loads and prepares the records of group, then looks up which of their keys are stored (on the
// read connections, outside the transaction: the rows the request wrote before are in the writer's known map).
//
// Where a unique index enforces the key, a valid record with a generated id is not looked up: its INSERT OR
// IGNORE skips it when its key is stored, and resolveClashes then finds the stored row (a duplicate), so the
// lookup would only repeat, for every new row, what the index does anyway (~6 % of the route's CPU for
// usage_logs). Invalid records (a duplicate even when invalid) and records with sent ids (written by a plain
// INSERT) are still looked up.
func (f *fastInsert) prepareGroup(group *bulkGroup, memo textMemo) error {
	records := make([]*core.Record, 0, len(group.rows))
	keys := make([]string, 0, len(group.rows))
	for _, row := range group.rows {
		row.record = core.NewRecord(f.collection)
		f.fields.load(row.record, row.data)
		if f.keyed {
			row.key = recordKey(row.record, f.uniqueBy)
		}
		if err := f.prepare(row, memo); err != nil {
			return errPrepare{err}
		}
		if !f.keyEnforced || row.errs != nil || !row.generated {
			row.lookedUp = true
			records, keys = append(records, row.record), append(keys, row.key)
		}
	}
	stored, err := findExistingKeys(f.app, f.collection, f.uniqueBy, records, keys)
	if err != nil {
		return errPrepare{fmt.Errorf("looking up existing keys: %w", err)}
	}
	group.stored = stored
	return nil
}

// textMemo holds the text checks of one goroutine (see validateText).
type textMemo map[*core.TextField]map[string]error

// prepare validates the loaded record of row with the field validation that needs no database (and a sent
// id's PocketBase check), then sets its autodates and exports its values. A returned error is not the
// record's fault (an autogenerate pattern PocketBase cannot use).
func (f *fastInsert) prepare(row *bulkRow, memo textMemo) error {
	record := row.record
	row.generated = record.Id == ""
	if row.generated {
		if id, ok := f.fields.timeId(); ok {
			record.SetRaw(core.FieldNameId, id)
		}
	}
	// TextField's own Validate interceptor fills empty autogenerated values, the id among them.
	for _, text := range f.fields.texts {
		if err := text.Intercept(f.ctx, f.app, record, core.InterceptorActionValidate, noAction); err != nil {
			return err
		}
	}

	errs := validation.Errors{}
	row.relations = make([][]string, 0, len(f.fields.relations))
	for _, field := range f.collection.Fields {
		var err error
		switch field := field.(type) {
		case *core.TextField:
			if field.PrimaryKey && row.generated {
				// A generated id is not looked up. It follows the field's autogenerate pattern (PocketBase's
				// default `[a-z0-9]{15}`, ours `use_[a-z0-9]{15}`): the creation time then this process's
				// sequence (timeId), so no two generated here are equal. Nor is it trusted: the primary key
				// rejects a clash (with an id a client sent), and insertOne retries with a new, random id, so a
				// clash never overwrites or loses a row.
				// PocketBase's lookup is case-insensitive (against ids differing in case only, which matter
				// to files on some platforms: collections with files take Save); with a pattern admitting no
				// upper case, as usage_logs' ^[a-z0-9_]+$, it is the primary key's check, and PocketBase skips
				// it for its default lowercase pattern. The id's format is still checked.
				err = validateGeneratedId(field, record.Id)
			} else if field.PrimaryKey {
				// A sent id gets PocketBase's own check, its case-insensitive lookup included.
				err = field.ValidateValue(f.ctx, f.app, record)
			} else {
				err = validateText(f.ctx, f.app, field, record, memo)
			}
		case *core.RelationField:
			ids := list.ToUniqueStringSlice(record.GetRaw(field.Name))
			row.relations = append(row.relations, ids)
			err = validateRelationCount(field, ids)
		default:
			err = field.ValidateValue(f.ctx, f.app, record)
		}
		if err != nil {
			errs[field.GetName()] = err
		}
	}
	if len(errs) > 0 {
		row.errs = errs
		return nil
	}

	for _, field := range f.fields.autodates {
		if field.OnCreate {
			record.SetRaw(field.Name, f.now)
		}
	}
	return f.export(row)
}

// export stores row's values as Save binds them: record.DBExport, one value per column.
func (f *fastInsert) export(row *bulkRow) error {
	exported, err := row.record.DBExport(f.app)
	if err != nil {
		return err
	}
	row.values = make([]any, len(f.columns))
	for c, column := range f.columns {
		row.values[c] = exported[column]
	}
	return nil
}

func noAction() error { return nil }

// validateText is field.ValidateValue, remembered per value within the request for a field with a pattern
// (PocketBase compiles the pattern on each call; a usage_logs period is the same in most rows).
func validateText(ctx context.Context, app core.App, field *core.TextField, record *core.Record, memo textMemo) error {
	value, ok := record.GetRaw(field.Name).(string)
	if !ok || field.Pattern == "" {
		return field.ValidateValue(ctx, app, record)
	}
	known := memo[field]
	if known == nil {
		known = map[string]error{}
		memo[field] = known
	}
	err, seen := known[value]
	if !seen {
		err = field.ValidatePlainValue(value)
		known[value] = err
	}
	return err
}

// patterns holds the compiled text patterns, by source (compiled once per process).
var patterns sync.Map

// defaultIdPattern is PocketBase's default id pattern, for which it skips its primary-key character checks.
const defaultIdPattern = "^[a-z0-9]+$"

// validateGeneratedId is field.ValidatePlainValue(id) for an id generated here, with the field's pattern compiled
// once instead of on every call (PocketBase's regexp.MatchString: ~4 % of the route's CPU for usage_logs). The
// checks run in PocketBase's order, each through its own code: required and length (a copy without pattern
// or primary key), the pattern, then the primary key's character and reserved-name checks (a copy without
// pattern) where PocketBase runs them.
func validateGeneratedId(field *core.TextField, id string) error {
	if field.Pattern == "" {
		return field.ValidatePlainValue(id)
	}
	plain := *field
	plain.Pattern, plain.PrimaryKey, plain.Required = "", false, field.Required || field.PrimaryKey
	if err := plain.ValidatePlainValue(id); err != nil || id == "" {
		return err
	}
	compiled, ok := patterns.Load(field.Pattern)
	if !ok {
		// As regexp.MatchString: a pattern that does not compile matches nothing.
		re, _ := regexp.Compile(field.Pattern)
		compiled, _ = patterns.LoadOrStore(field.Pattern, re)
	}
	if re, _ := compiled.(*regexp.Regexp); re == nil || !re.MatchString(id) {
		return validation.NewError("validation_invalid_format", "Invalid value format.")
	}
	if field.PrimaryKey && field.Pattern != defaultIdPattern {
		primaryKey := *field
		primaryKey.Pattern = ""
		return primaryKey.ValidatePlainValue(id)
	}
	return nil
}

// validateRelationCount is RelationField.ValidateValue without its existence SELECT (checkRelations); ids
// are the record's values of field, as ValidateValue reads them.
func validateRelationCount(field *core.RelationField, ids []string) error {
	if len(ids) == 0 {
		if field.Required {
			return validation.ErrRequired
		}
		return nil
	}
	if field.MinSelect > 0 && len(ids) < field.MinSelect {
		return validation.NewError("validation_not_enough_values", "Select at least {{.minSelect}}").
			SetParams(map[string]any{"minSelect": field.MinSelect})
	}
	maxSelect := max(field.MaxSelect, 1)
	if len(ids) > maxSelect {
		return validation.NewError("validation_too_many_values", "Select no more than {{.maxSelect}}").
			SetParams(map[string]any{"maxSelect": maxSelect})
	}
	return nil
}

// checkRelations is RelationField.ValidateValue's existence check for rows, once per distinct id and request:
// one SELECT per relation field for the ids not checked yet (usually none after the first group). It runs in
// the transaction, so a related row cannot vanish before the insert.
func (f *fastInsert) checkRelations(txApp core.App, rows []*bulkRow) error {
	for k, field := range f.fields.relations {
		known := f.related[field]
		if known == nil {
			known = map[string]bool{}
			f.related[field] = known
		}
		var unchecked []any
		for _, row := range rows {
			if row.errs[field.Name] != nil {
				continue
			}
			for _, id := range row.relations[k] {
				if _, ok := known[id]; !ok {
					known[id] = false
					unchecked = append(unchecked, id)
				}
			}
		}

		missing := validation.NewError("validation_missing_rel_records", "Failed to find all relation records with the provided ids")
		related, err := txApp.FindCachedCollectionByNameOrId(field.CollectionId)
		if err != nil {
			missing = validation.NewError("validation_missing_rel_collection", "Relation connection is missing or cannot be accessed")
		} else {
			for start := 0; start < len(unchecked); start += bulkLookupValues {
				var found []string
				err := txApp.DB().Select("id").From(related.Name).
					Where(dbx.In("id", unchecked[start:min(start+bulkLookupValues, len(unchecked))]...)).
					Column(&found)
				if err != nil {
					return err
				}
				for _, id := range found {
					known[id] = true
				}
			}
		}

		for _, row := range rows {
			if row.errs[field.Name] != nil {
				continue
			}
			for _, id := range row.relations[k] {
				if !known[id] {
					if row.errs == nil {
						row.errs = validation.Errors{}
					}
					row.errs[field.Name] = missing
					break
				}
			}
		}
	}
	return nil
}

// writeRows writes rows and sets their outcomes. Like the Save path, a record whose key is stored or was
// created earlier in the request is a duplicate, even when it would fail validation.
func (f *fastInsert) writeRows(txApp core.App, rows []*bulkRow, known map[string]string) error {
	pending := rows
	// One round in the usual case. A record whose key an earlier record of the group claims waits for that
	// record's outcome: its id when it was written (or found), or its own turn when it failed.
	for len(pending) > 0 {
		claimed := map[string]bool{}
		var batch, waiting []*bulkRow
		for _, row := range pending {
			if f.keyed {
				if id, ok := known[row.key]; ok {
					row.result = bulkResult{Status: "duplicate", Id: id}
					continue
				}
				if claimed[row.key] {
					waiting = append(waiting, row)
					continue
				}
			}
			if row.errs != nil {
				row.result = failedResult(router.NewBadRequestError("", row.errs).Data)
				continue
			}
			batch = append(batch, row)
			if f.keyed {
				claimed[row.key] = true
			}
		}
		if err := f.insert(txApp, batch, known); err != nil {
			return err
		}
		pending = waiting
	}
	return nil
}

// insert writes batch: the records with generated ids with `INSERT OR IGNORE … RETURNING id` statements, then
// the ones with sent ids one by one (insertSent). A row not returned clashed with a unique index: with a row
// of its key that a concurrent writer committed after the lookup (a duplicate), or with another unique index
// or the primary key (insertOne).
//
// OR IGNORE rather than ON CONFLICT DO NOTHING: both skip a row that clashes with a unique index, but with DO
// NOTHING the NOT NULL constraints can still abort the statement, so SQLite keeps a statement journal of every
// page the multi-row statement changes, which doubled its cost. OR IGNORE also skips a row failing NOT NULL or
// CHECK, which then gets insertOne's plain INSERT, whose error aborts the request as it does in Save.
func (f *fastInsert) insert(txApp core.App, batch []*bulkRow, known map[string]string) error {
	var generated, sent []*bulkRow
	for _, row := range batch {
		if row.generated {
			generated = append(generated, row)
		} else {
			sent = append(sent, row)
		}
	}

	rowsPerStatement := max(1, min(bulkStatementRows, bulkInsertValues/len(f.columns)))
	for start := 0; start < len(generated); start += rowsPerStatement {
		part := generated[start:min(start+rowsPerStatement, len(generated))]
		statement, err := f.statement(txApp, part, true)
		if err != nil {
			return err
		}
		var ids []string
		if err := statement.query.WithContext(f.ctx).Column(&ids); err != nil {
			return err
		}

		returned := make(map[string]bool, len(ids))
		for _, id := range ids {
			returned[id] = true
		}
		var clashed []*bulkRow
		for _, row := range part {
			// The rows are written in order: of two records with one id, the first holds it.
			if id := row.record.Id; returned[id] {
				delete(returned, id)
				f.created(row, known)
			} else {
				clashed = append(clashed, row)
			}
		}
		if err := f.resolveClashes(txApp, clashed, known); err != nil {
			return err
		}
	}

	for _, row := range sent {
		if err := f.insertSent(txApp, row, known); err != nil {
			return err
		}
	}
	return nil
}

// insertSent writes a record whose id was sent. PocketBase's own id check runs again in the transaction, where
// it sees the rows written earlier in the request (prepare ran it against the stored rows only).
func (f *fastInsert) insertSent(txApp core.App, row *bulkRow, known map[string]string) error {
	if err := f.fields.primaryKey.ValidateValue(f.ctx, txApp, row.record); err != nil {
		row.result = failedResult(router.NewBadRequestError("", validation.Errors{core.FieldNameId: err}).Data)
		return nil
	}
	return f.insertOne(txApp, row, known)
}

func (f *fastInsert) created(row *bulkRow, known map[string]string) {
	row.result = bulkResult{Status: "created", Id: row.record.Id}
	if f.sums != nil {
		f.sums.add(row.record, 1)
	}
	if f.keyed {
		known[row.key] = row.record.Id
	}
}

func (f *fastInsert) resolveClashes(txApp core.App, clashed []*bulkRow, known map[string]string) error {
	if len(clashed) == 0 {
		return nil
	}
	var found map[string]string
	if f.keyed {
		records := make([]*core.Record, len(clashed))
		keys := make([]string, len(clashed))
		for n, row := range clashed {
			records[n], keys[n] = row.record, row.key
		}
		var err error
		if found, err = findExistingKeys(txApp, f.collection, f.uniqueBy, records, keys); err != nil {
			return err
		}
	}
	for _, row := range clashed {
		if id, ok := found[row.key]; ok {
			row.result = bulkResult{Status: "duplicate", Id: id}
			known[row.key] = id
			continue
		}
		if err := f.insertOne(txApp, row, known); err != nil {
			return err
		}
	}
	return nil
}

// insertOne writes one record with a plain INSERT, whose unique-index error becomes the record's outcome as in
// Save (SQLite aborts only the failing statement, so the transaction goes on). A generated id that clashes is
// replaced, a sent one is PocketBase's validation_pk_invalid.
func (f *fastInsert) insertOne(txApp core.App, row *bulkRow, known map[string]string) error {
	for attempt := 1; ; attempt++ {
		statement, err := f.statement(txApp, []*bulkRow{row}, false)
		if err != nil {
			return err
		}
		_, err = statement.query.WithContext(f.ctx).Execute()
		if err == nil {
			f.created(row, known)
			return nil
		}
		fieldErrs, ok := validators.NormalizeUniqueIndexError(err, f.collection.Name, f.columns).(validation.Errors)
		if !ok {
			return err
		}
		if _, idClash := fieldErrs[core.FieldNameId]; idClash && len(fieldErrs) == 1 {
			if row.generated && attempt < 5 {
				id, err := security.RandomStringByRegex(f.fields.primaryKey.AutogeneratePattern)
				if err != nil {
					return err
				}
				row.record.SetRaw(core.FieldNameId, id)
				row.values[f.idColumn] = id
				continue
			}
			fieldErrs[core.FieldNameId] = validation.NewError("validation_pk_invalid", "The record primary key is invalid or already exists.")
		}
		row.result = failedResult(router.NewBadRequestError("", fieldErrs).Data)
		return nil
	}
}

// insertStatement is a prepared INSERT and the parameters bound to it, refilled for each use.
type insertStatement struct {
	query  *dbx.Query
	params dbx.Params
}

// statement is the prepared `INSERT INTO {{table}} ([[col]], …) VALUES ({:p0}, …), …` for len(rows) rows (OR
// IGNORE … RETURNING id when upsert is set), bound to the rows' values (export). Preparing it once per request
// spares SQLite's parse and dbx's SQL rewriting per statement.
func (f *fastInsert) statement(txApp core.App, rows []*bulkRow, upsert bool) (*insertStatement, error) {
	cacheKey := len(rows)
	if !upsert {
		cacheKey = -cacheKey
	}
	statement := f.statements[cacheKey]
	if statement == nil {
		query := txApp.DB().NewQuery(f.insertSQL(len(rows), upsert)).Prepare()
		if query.LastError != nil {
			return nil, query.LastError
		}
		statement = &insertStatement{query: query, params: make(dbx.Params, len(rows)*len(f.columns))}
		query.Bind(statement.params)
		f.statements[cacheKey] = statement
	}

	n := 0
	for _, row := range rows {
		for _, value := range row.values {
			statement.params[placeholderNames[n]] = value
			n++
		}
	}
	return statement, nil
}

func (f *fastInsert) closeStatements() {
	for _, statement := range f.statements {
		_ = statement.query.Close()
	}
	clear(f.statements)
}

func (f *fastInsert) insertSQL(rows int, upsert bool) string {
	var b strings.Builder
	if upsert {
		b.WriteString("INSERT OR IGNORE INTO {{")
	} else {
		b.WriteString("INSERT INTO {{")
	}
	b.WriteString(f.collection.Name)
	b.WriteString("}} (")
	for c, column := range f.columns {
		if c > 0 {
			b.WriteString(", ")
		}
		b.WriteString("[[" + column + "]]")
	}
	b.WriteString(") VALUES ")
	n := 0
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range f.columns {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString("{:")
			b.WriteString(placeholderNames[n])
			b.WriteByte('}')
			n++
		}
		b.WriteByte(')')
	}
	if upsert {
		b.WriteString(" RETURNING [[id]]")
	}
	return b.String()
}

var placeholderNames = func() []string {
	names := make([]string, bulkInsertValues)
	for n := range names {
		names[n] = "p" + strconv.Itoa(n)
	}
	return names
}()
