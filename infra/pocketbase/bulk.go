package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"sort"
	"strings"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// bulkMaxRecords bounds one request: its transaction holds the single writer connection while it runs.
const bulkMaxRecords = 5000

// bulkRequest is the body of POST /api/cloudfreedom/bulk/{collection}.
type bulkRequest struct {
	// UniqueBy names the fields of a unique key; a record whose key already exists is a duplicate.
	UniqueBy []string         `json:"unique_by"`
	Records  []map[string]any `json:"records"`
}

// bulkResult is the outcome of one record, in request order.
type bulkResult struct {
	Status  string         `json:"status"`
	Id      string         `json:"id,omitempty"`
	Code    string         `json:"code,omitempty"`
	Message string         `json:"message,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
}

// registerBulkRoute adds POST /api/cloudfreedom/bulk/{collection}: many creates in one transaction without
// the batch API's full HTTP sub-request per record, nor Save's per-record cost (bulk_fast.go).
//
// Body: {"records": [{...}, ...], "unique_by": ["field", ...]} (unique_by optional), 1 to 5,000 records.
// Answer 200: {"results": [...]}, one per record in request order: {"status": "created", "id"},
// {"status": "duplicate", "id"} (its unique_by key is stored, or was created earlier in the request), or
// {"status": "failed", "code": "validation_failed", "message", "data": {field: {code, message}}}; the other
// records are written. 400: a malformed request (body, records, unique_by), nothing written, even when the
// fast path had begun writing before finding it (it rolls back); a record failing validation is not a 400
// but its own failed outcome, from the collection's field rules only on the fast path (no OnRecordValidate
// hook). 500: the transaction failed and rolled back.
//
// Record hooks and realtime events do NOT fire for collections on the fast path (every base collection
// without file or password fields, plugin field types or self-relations; bulk_fast.go): the records are
// validated and inserted directly, not through app.Save. The other collections go through app.Save, hooks
// included.
func registerBulkRoute(app core.App) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.POST("/api/cloudfreedom/bulk/{collection}", handleBulkInsert).Bind(apis.RequireSuperuserAuth())
		return se.Next()
	})
}

func handleBulkInsert(e *core.RequestEvent) error {
	name := e.Request.PathValue("collection")
	collection, err := e.App.FindCachedCollectionByNameOrId(name)
	if err != nil || collection == nil {
		return e.NotFoundError(fmt.Sprintf("Collection %q not found.", name), err)
	}
	if !collection.IsBase() {
		return e.BadRequestError(fmt.Sprintf("Bulk insert supports base collections only; %q is a %s collection.", collection.Name, collection.Type), nil)
	}

	var fast *fastInsert
	var sink bulkSink
	if fields := newFastFields(collection); fields != nil {
		fast = newFastInsert(e.Request.Context(), e.App, fields, collection)
		defer fast.stop()
		sink = fast
	}
	// Read whole first: the fast path's transaction starts while the body is decoded and must not wait on
	// the client.
	raw, err := io.ReadAll(e.Request.Body)
	var body bulkRequest
	if err == nil {
		body, err = decodeBulkBody(bytes.NewReader(raw), collection, sink)
	}
	if err != nil {
		return e.BadRequestError(
			`Invalid body: expected {"records": [{...}, ...], "unique_by": ["field", ...]}.`,
			validation.Errors{"body": validation.NewError("validation_invalid_body", err.Error())},
		)
	}
	if field, code, message := validateBulkRequest(collection, &body); field != "" {
		// The fast path's writer, when started, rolls back.
		return e.BadRequestError(message, validation.Errors{field: validation.NewError(code, message)})
	}

	if fast != nil {
		results, err := fast.write()
		if errors.As(err, new(errPrepare)) {
			return e.InternalServerError("Preparing the records failed; nothing was written.", err)
		}
		if err != nil {
			// Rolled back (a database error); the client retries, which unique_by makes idempotent.
			return e.InternalServerError("The bulk insert transaction failed.", err)
		}
		return e.JSON(http.StatusOK, map[string]any{"results": results})
	}

	// The Save path.
	keyed := len(body.UniqueBy) > 0
	records := make([]*core.Record, len(body.Records))
	keys := make([]string, len(body.Records))
	for i, data := range body.Records {
		records[i] = core.NewRecord(collection)
		records[i].Load(data)
		if keyed {
			keys[i] = recordKey(records[i], body.UniqueBy)
		}
	}

	// Read before the transaction so the single writer connection is held only for the inserts.
	existing, err := findExistingKeys(e.App, collection, body.UniqueBy, records, keys)
	if err != nil {
		return e.InternalServerError("Looking up existing keys failed; nothing was written.", err)
	}

	var results []bulkResult
	txErr := e.App.RunInTransaction(func(txApp core.App) error {
		var err error
		results, err = saveRecords(e, txApp, records, keys, body.UniqueBy, existing)
		return err
	})
	if txErr != nil {
		// Rolled back (a database error); the client retries, which unique_by makes idempotent.
		return e.InternalServerError("The bulk insert transaction failed.", txErr)
	}
	return e.JSON(http.StatusOK, map[string]any{"results": results})
}

// bulkSink receives the body as it is decoded: unique_by once known to be well formed, and each record.
type bulkSink interface {
	setUniqueBy(uniqueBy []string)
	addRecord(record map[string]any)
}

// decodeBulkBody decodes the body a record at a time, handing each to sink (when not nil) as soon as it is
// decoded, so that the fast path prepares and writes records while the rest is decoded. As with
// DisallowUnknownFields, a key other than records and unique_by (matched case-insensitively, as
// encoding/json does) is an error, so is a repeated one: a misspelt "unique_by" must not silently turn an
// idempotent request into a plain insert.
func decodeBulkBody(r io.Reader, collection *core.Collection, sink bulkSink) (bulkRequest, error) {
	var body bulkRequest
	decoder := json.NewDecoder(r)
	if err := expectDelim(decoder, '{'); err != nil {
		return body, err
	}
	var seenRecords, seenUniqueBy bool
	for decoder.More() {
		token, err := decoder.Token()
		if err != nil {
			return body, err
		}
		key, _ := token.(string)
		switch {
		case strings.EqualFold(key, "unique_by") && !seenUniqueBy:
			seenUniqueBy = true
			if err := decoder.Decode(&body.UniqueBy); err != nil {
				return body, err
			}
			if sink != nil && uniqueByExists(collection, body.UniqueBy) {
				sink.setUniqueBy(body.UniqueBy)
			}
		case strings.EqualFold(key, "records") && !seenRecords:
			seenRecords = true
			token, err := decoder.Token()
			if err != nil {
				return body, err
			}
			if token == nil {
				continue // null
			}
			if token != json.Delim('[') {
				return body, fmt.Errorf("json: cannot unmarshal %v into records, an array of objects", token)
			}
			body.Records = []map[string]any{}
			for decoder.More() {
				var record map[string]any
				if err := decoder.Decode(&record); err != nil {
					return body, err
				}
				body.Records = append(body.Records, record)
				if sink != nil {
					sink.addRecord(record)
				}
			}
			if err := expectDelim(decoder, ']'); err != nil {
				return body, err
			}
		default:
			return body, fmt.Errorf("json: unknown or repeated field %q", key)
		}
	}
	if err := expectDelim(decoder, '}'); err != nil {
		return body, err
	}
	if sink != nil && !seenUniqueBy {
		sink.setUniqueBy(nil)
	}
	return body, nil
}

func expectDelim(decoder *json.Decoder, delim json.Delim) error {
	token, err := decoder.Token()
	if err != nil {
		return err
	}
	if token != delim {
		return fmt.Errorf("json: expected %v, got %v", delim, token)
	}
	return nil
}

func uniqueByExists(collection *core.Collection, uniqueBy []string) bool {
	for _, name := range uniqueBy {
		if collection.Fields.GetByName(name) == nil {
			return false
		}
	}
	return true
}

// validateBulkRequest returns the offending field and why, or "" when the request is well formed.
func validateBulkRequest(collection *core.Collection, body *bulkRequest) (field, code, message string) {
	switch {
	case body.Records == nil:
		return "records", "validation_required", fmt.Sprintf("records is required: an array of 1 to %d records.", bulkMaxRecords)
	case len(body.Records) == 0 || len(body.Records) > bulkMaxRecords:
		return "records", "validation_length_out_of_range",
			fmt.Sprintf("records holds %d records; send 1 to %d per request.", len(body.Records), bulkMaxRecords)
	}
	for i, record := range body.Records {
		if record == nil {
			return "records", "validation_invalid_record", fmt.Sprintf("records[%d] is not an object.", i)
		}
	}
	for _, name := range body.UniqueBy {
		if collection.Fields.GetByName(name) == nil {
			return "unique_by", "validation_unknown_field",
				fmt.Sprintf("unique_by names %q, which is not a field of %s.", name, collection.Name)
		}
	}
	return "", "", ""
}

// saveRecords is the Save path, for collections the fast path does not handle (bulk_fast.go): app.Save per
// record, with PocketBase's validation and hooks.
func saveRecords(e *core.RequestEvent, txApp core.App, records []*core.Record, keys []string, uniqueBy []string, existing map[string]string) ([]bulkResult, error) {
	keyed := len(uniqueBy) > 0
	results := make([]bulkResult, len(records))
	// The first record of a key that gets created wins; later ones (and ones already stored) are duplicates.
	known := maps.Clone(existing)
	for i, record := range records {
		if id, ok := known[keys[i]]; keyed && ok {
			results[i] = bulkResult{Status: "duplicate", Id: id}
			continue
		}
		result, err := createRecord(e, txApp, record, uniqueBy)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		results[i] = result
		if keyed && result.Status == "created" {
			known[keys[i]] = result.Id
		}
	}
	return results, nil
}

// createRecord saves one record inside the transaction. A record PocketBase rejects (field validation, a
// unique violation, which leaves the transaction usable since SQLite aborts only the failing statement, or a
// hook's 4xx error) is an outcome; any other error is returned and aborts the whole transaction.
func createRecord(e *core.RequestEvent, txApp core.App, record *core.Record, uniqueBy []string) (bulkResult, error) {
	err := txApp.SaveWithContext(e.Request.Context(), record)
	if err == nil {
		return bulkResult{Status: "created", Id: record.Id}, nil
	}

	var fieldErrs validation.Errors
	if errors.As(err, &fieldErrs) {
		if violatesKey(fieldErrs, uniqueBy) {
			// Another writer committed the same key after our lookup.
			id, found, lookupErr := findKeyId(txApp, record, uniqueBy)
			if lookupErr != nil {
				return bulkResult{}, lookupErr
			}
			if found {
				return bulkResult{Status: "duplicate", Id: id}, nil
			}
		}
		return failedResult(router.NewBadRequestError("", fieldErrs).Data), nil
	}
	var fieldErr validation.Error
	if errors.As(err, &fieldErr) {
		return bulkResult{Status: "failed", Code: "validation_failed", Message: fieldErr.Error(), Data: map[string]any{}}, nil
	}
	var apiErr *router.ApiError
	if errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500 {
		return bulkResult{Status: "failed", Code: "validation_failed", Message: apiErr.Message, Data: apiErr.Data}, nil
	}
	return bulkResult{}, err
}

func violatesKey(fieldErrs validation.Errors, uniqueBy []string) bool {
	if len(uniqueBy) == 0 {
		return false
	}
	for _, field := range uniqueBy {
		var fieldErr validation.Error
		if !errors.As(fieldErrs[field], &fieldErr) || fieldErr.Code() != "validation_not_unique" {
			return false
		}
	}
	return true
}

// failedResult names every failing field in the message; data has PocketBase's {field: {code, message}} shape.
func failedResult(data map[string]any) bulkResult {
	fields := make([]string, 0, len(data))
	for field := range data {
		fields = append(fields, field)
	}
	sort.Strings(fields)
	parts := make([]string, 0, len(fields))
	for _, field := range fields {
		message := "invalid value"
		if item, ok := data[field].(map[string]any); ok {
			if m, ok := item["message"].(string); ok && m != "" {
				message = m
			}
		}
		parts = append(parts, field+": "+message)
	}
	message := "Failed to create the record."
	if len(parts) > 0 {
		message = strings.Join(parts, "; ")
	}
	return bulkResult{Status: "failed", Code: "validation_failed", Message: message, Data: data}
}
