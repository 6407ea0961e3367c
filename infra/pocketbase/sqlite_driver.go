package main

import (
	"database/sql"

	"github.com/mattn/go-sqlite3"
	"github.com/pocketbase/dbx"
)

// PocketBase stores its data in SQLite through a driver chosen by its DBConnect option; by default that is
// modernc.org/sqlite, SQLite translated to Go. This host uses mattn/go-sqlite3 instead, SQLite's own C source
// built with cgo, as PocketBase's documentation describes ("Custom SQLite driver"), and is built with the
// tags in build-tags (build.sh, scripts/test, docker/Dockerfile.pocketbase): no_default_driver, so that the
// modernc driver is not linked at all, and the SQLite features mattn leaves out by default
// (TestSQLiteBuildFeatures).
//
// Why: bench/usage is PocketBase's write path at full load, and there the SQLite work of each usage_logs row
// (ten b-trees) was ~45 % of PocketBase's CPU under modernc, with ~7 % more in modernc's allocator (a fresh
// mmap and munmap for every page split's scratch buffer) and ~9 % in its parameter binding, which scans the
// arguments once per parameter. With the C build the bench persisted 1.2-1.5x as many events per second
// (README, Benchmarks). The cost is a C compiler at build time (gcc), and 1-2 more minutes for a cold build
// to compile SQLite (the Go build cache keeps it).

// sqliteDriverName is the database/sql name this host registers its driver under.
const sqliteDriverName = "pb_sqlite3"

// sqliteConnectPragmas are PocketBase's own (core.DefaultDBConnect), run on every new connection; busy_timeout
// first, so that a connection blocks on a busy database before it asks for WAL mode.
const sqliteConnectPragmas = `
PRAGMA busy_timeout = 10000;
PRAGMA journal_mode = WAL;
PRAGMA journal_size_limit = 200000000;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA temp_store = MEMORY;
PRAGMA cache_size = -32000;
`

func init() {
	sql.Register(sqliteDriverName, &sqlite3.SQLiteDriver{
		ConnectHook: func(conn *sqlite3.SQLiteConn) error {
			_, err := conn.Exec(sqliteConnectPragmas, nil)
			return err
		},
	})
	// The query builder is chosen by driver name: this one speaks SQLite.
	dbx.BuilderFuncMap[sqliteDriverName] = dbx.BuilderFuncMap["sqlite3"]
}

// sqliteConnect opens PocketBase's databases (data.db and auxiliary.db) with the cgo driver.
func sqliteConnect(dbPath string) (*dbx.DB, error) {
	return dbx.Open(sqliteDriverName, dbPath)
}
