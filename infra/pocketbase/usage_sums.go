package main

import (
	"database/sql"
	"errors"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cast"
)

// usage_period_sums (1767226700_usage_period_sums.js) holds usage_logs' sums per (tenant, period, key, user),
// which the usage_period_totals view reads instead of a GROUP BY over the logs. They change in the
// transaction that writes the logs: the bulk route adds a request's created rows per group (bulk_fast.go),
// and the record hooks below cover every other write (records and batch API, migrations, the dashboard).

const usageLogsCollection = "usage_logs"

type usageSumKey struct{ tenant, period, apiKey, user string }

type usageSum struct{ billed, cost, requests, queries int64 }

type usageSums map[usageSumKey]usageSum

// add counts record (sign 1) or takes it away (sign -1): a failed call that billed nothing is not a query.
func (sums usageSums) add(record *core.Record, sign int64) {
	text := func(name string) string { return cast.ToString(fieldValue(record, name)) }
	number := func(name string) int64 { return int64(cast.ToInt(fieldValue(record, name))) }
	key := usageSumKey{tenant: text("tenant"), period: text("period"), apiKey: text("api_key"), user: text("user")}
	billed := number("billed_micros")
	query := int64(1)
	if text("status") == "error" && billed == 0 {
		query = 0
	}
	sum := sums[key]
	sum.billed += sign * billed
	sum.cost += sign * number("cost_micros")
	sum.requests += sign
	sum.queries += sign * query
	sums[key] = sum
}

// write applies the sums to usage_period_sums with txApp, dropping a row whose logs are all gone.
func (sums usageSums) write(txApp core.App) error {
	for key, sum := range sums {
		if sum == (usageSum{}) {
			continue
		}
		params := dbx.Params{
			"tenant": key.tenant, "period": key.period, "api_key": key.apiKey, "user": key.user,
			"billed": sum.billed, "cost": sum.cost, "requests": sum.requests, "queries": sum.queries,
		}
		_, err := txApp.DB().NewQuery(`
			INSERT INTO usage_period_sums (tenant, period, api_key, user, billed_micros, cost_micros, requests, queries)
			VALUES ({:tenant}, {:period}, {:api_key}, {:user}, {:billed}, {:cost}, {:requests}, {:queries})
			ON CONFLICT (tenant, period, api_key, user) DO UPDATE SET
				billed_micros = billed_micros + excluded.billed_micros,
				cost_micros = cost_micros + excluded.cost_micros,
				requests = requests + excluded.requests,
				queries = queries + excluded.queries`).Bind(params).Execute()
		if err != nil {
			return err
		}
		if sum.requests < 0 {
			_, err = txApp.DB().NewQuery(`
				DELETE FROM usage_period_sums
				WHERE tenant = {:tenant} AND period = {:period} AND api_key = {:api_key} AND user = {:user}
					AND requests <= 0`).Bind(params).Execute()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// sumsFor is the bulk route's accumulator for collection: usage_logs only.
func sumsFor(collection *core.Collection) usageSums {
	if collection.Name == usageLogsCollection {
		return usageSums{}
	}
	return nil
}

// storedSums adds (sign 1) or takes away (sign -1) the log as it is stored now, read with txApp (inside the
// write's transaction, on PocketBase's one writer connection, so it is exact); nothing when it is not stored.
func storedSums(txApp core.App, id string, sums usageSums, sign int64) error {
	if id == "" {
		return nil
	}
	record, err := txApp.FindRecordById(usageLogsCollection, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	sums.add(record, sign)
	return nil
}

// registerUsageSums keeps usage_period_sums with every write of a log outside the bulk route, in the write's
// transaction (inline in the caller's when there is one). Updates and deletes take the stored row away, read
// in the transaction, not the record the caller loaded earlier: a concurrent write may have changed it, and a
// write that changes no row then changes no sums.
func registerUsageSums(app core.App) {
	inTransaction := func(e *core.RecordEvent, before, after func(txApp core.App, sums usageSums) error) error {
		return e.App.RunInTransaction(func(txApp core.App) error {
			original := e.App
			e.App = txApp
			defer func() { e.App = original }()
			sums := usageSums{}
			if err := before(txApp, sums); err != nil {
				return err
			}
			if err := e.Next(); err != nil {
				return err
			}
			if err := after(txApp, sums); err != nil {
				return err
			}
			return sums.write(txApp)
		})
	}
	none := func(core.App, usageSums) error { return nil }
	app.OnRecordCreateExecute(usageLogsCollection).BindFunc(func(e *core.RecordEvent) error {
		return inTransaction(e, none, func(_ core.App, sums usageSums) error {
			sums.add(e.Record, 1)
			return nil
		})
	})
	app.OnRecordUpdateExecute(usageLogsCollection).BindFunc(func(e *core.RecordEvent) error {
		id, _ := e.Record.LastSavedPK().(string)
		return inTransaction(e,
			func(txApp core.App, sums usageSums) error { return storedSums(txApp, id, sums, -1) },
			func(txApp core.App, sums usageSums) error { return storedSums(txApp, e.Record.Id, sums, 1) })
	})
	app.OnRecordDeleteExecute(usageLogsCollection).BindFunc(func(e *core.RecordEvent) error {
		id, _ := e.Record.LastSavedPK().(string)
		return inTransaction(e, func(txApp core.App, sums usageSums) error {
			return storedSums(txApp, id, sums, -1)
		}, none)
	})
}
