package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/dbutils"
)

// bulkLookupValues bounds the bound values of one existing-key SELECT (SQLite allows 32766).
const bulkLookupValues = 1000

// recordKey is the record's values of fields, as normalised by the collection's fields, in one comparable string.
func recordKey(record *core.Record, fields []string) string {
	values := make([]any, len(fields))
	for i, field := range fields {
		values[i] = fieldValue(record, field)
	}
	encoded, err := json.Marshal(values)
	if err != nil {
		return fmt.Sprint(values)
	}
	return string(encoded)
}

// fieldValue is record.Get(name) without its scan of every field of the collection for a getter (it asks each
// field; ~2 % of the bulk route's CPU for usage_logs' keys and sums): only the field of that name can claim
// the key, since the keys other fields claim carry a modifier ("name:excerpt"), as fastFields.load relies on.
func fieldValue(record *core.Record, name string) any {
	if field := record.Collection().Fields.GetByName(name); field != nil {
		if finder, ok := field.(core.GetterFinder); ok {
			if getter := finder.FindGetter(name); getter != nil {
				return getter(record)
			}
		}
	}
	return record.GetRaw(name)
}

// uniqueIndexWithin reports whether a unique index of collection (not partial, on plain columns) covers only
// fields of uniqueBy: then a row whose uniqueBy values equal a stored row's violates that index.
func uniqueIndexWithin(collection *core.Collection, uniqueBy []string) bool {
	for _, raw := range collection.Indexes {
		index := dbutils.ParseIndex(raw)
		if !index.Unique || index.Where != "" || len(index.Columns) == 0 {
			continue
		}
		within := true
		for _, column := range index.Columns {
			if !slices.Contains(uniqueBy, column.Name) {
				within = false
				break
			}
		}
		if within {
			return true
		}
	}
	return false
}

// keyMatch is the condition `a = {:a} AND … AND last IN ({:v1}, …)` for records sharing all key values but
// the last one, so the unique index answers it.
type keyMatch struct {
	prefix dbx.HashExp
	values []any
}

// findExistingKeys maps the key of every record that already has a row to that row's id, with a few
// SELECTs of bound values. keys are the records' recordKey of fields.
func findExistingKeys(app core.App, collection *core.Collection, fields []string, records []*core.Record, keys []string) (map[string]string, error) {
	found := map[string]string{}
	if len(fields) == 0 {
		return found, nil
	}
	last := fields[len(fields)-1]
	prefixFields := fields[:len(fields)-1]

	matches := map[string]*keyMatch{}
	var order []string
	seen := map[string]bool{}
	for i, record := range records {
		key := keys[i]
		if seen[key] {
			continue
		}
		seen[key] = true
		prefixKey := recordKey(record, prefixFields)
		match := matches[prefixKey]
		if match == nil {
			match = &keyMatch{prefix: dbx.HashExp{}}
			for _, field := range prefixFields {
				match.prefix[field] = record.GetRaw(field)
			}
			matches[prefixKey] = match
			order = append(order, prefixKey)
		}
		match.values = append(match.values, record.GetRaw(last))
	}

	columns := append([]string{"id"}, fields...)
	var conditions []dbx.Expression
	bound := 0
	flush := func() error {
		if len(conditions) == 0 {
			return nil
		}
		var rows []*core.Record
		err := app.RecordQuery(collection).Select(columns...).AndWhere(dbx.Or(conditions...)).All(&rows)
		if err != nil {
			return err
		}
		for _, row := range rows {
			found[recordKey(row, fields)] = row.Id
		}
		conditions, bound = nil, 0
		return nil
	}

	perCondition := max(1, bulkLookupValues-len(prefixFields))
	for _, prefixKey := range order {
		match := matches[prefixKey]
		for start := 0; start < len(match.values); start += perCondition {
			part := match.values[start:min(start+perCondition, len(match.values))]
			if bound+len(prefixFields)+len(part) > bulkLookupValues {
				if err := flush(); err != nil {
					return nil, err
				}
			}
			condition := maps.Clone(match.prefix)
			condition[last] = part
			conditions = append(conditions, condition)
			bound += len(prefixFields) + len(part)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return found, nil
}

// findKeyId is the id of the row holding record's key, read inside the transaction (it sees the row a
// concurrent writer committed before our insert failed on it).
func findKeyId(txApp core.App, record *core.Record, fields []string) (string, bool, error) {
	condition := dbx.HashExp{}
	for _, field := range fields {
		condition[field] = record.GetRaw(field)
	}
	var id string
	err := txApp.DB().Select("id").From(record.Collection().Name).Where(condition).Limit(1).Row(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return id, true, nil
}
