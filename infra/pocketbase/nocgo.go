//go:build !cgo

package main

// This host's SQLite is compiled from C (sqlite_driver.go): without cgo, mattn/go-sqlite3 builds a stub that
// fails only when PocketBase opens its database. Stop the build here instead, with the reason.
var _ = requires_cgo_set_CGO_ENABLED_1_and_install_a_C_compiler
