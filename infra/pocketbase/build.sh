#!/usr/bin/env bash
# Builds infra/pocketbase/bin/pocketbase from the Go sources + go.mod/go.sum with the tags in build-tags, only
# when it is missing or stale.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/bin/pocketbase"

stale=0
if [[ ! -x "$bin" ]]; then
  stale=1
else
  for src in "$here"/*.go "$here/go.mod" "$here/go.sum" "$here/build-tags" "$here/build.sh"; do
    if [[ "$src" != *_test.go && "$src" -nt "$bin" ]]; then stale=1; fi
  done
fi
if [[ $stale -eq 0 ]]; then
  echo "pocketbase: $bin is up to date"
  exit 0
fi

go_bin="$(command -v go || true)"
if [[ -z "$go_bin" && -x /usr/local/go/bin/go ]]; then go_bin=/usr/local/go/bin/go; fi
if [[ -z "$go_bin" ]]; then
  echo "pocketbase: Go is required to build PocketBase but was not found on PATH or in /usr/local/go." >&2
  echo "pocketbase: install Go >= 1.26 (https://go.dev/dl/) and run $here/build.sh again." >&2
  exit 1
fi

# SQLite is compiled from its C source (mattn/go-sqlite3 through cgo, see sqlite_driver.go), so the C compiler
# that cgo calls (`go env CC`) is needed. build-tags: no_default_driver leaves PocketBase's default driver
# (modernc.org/sqlite) out of the binary; sqlite_math_functions and sqlite_fts5 build in what modernc's SQLite
# has and mattn's leaves out by default (PocketBase's geoDistance() filter needs the math functions).
tags="$(cat "$here/build-tags")"
cc_bin="$(cd "$here" && "$go_bin" env CC)"
if ! command -v "${cc_bin%% *}" >/dev/null 2>&1; then
  echo "pocketbase: a C compiler ($cc_bin, from go env CC) is required to build SQLite into PocketBase but was not found." >&2
  echo "pocketbase: install gcc (Debian/Ubuntu: apt-get install gcc; Alpine: apk add gcc musl-dev) or set CC, then run $here/build.sh again." >&2
  exit 1
fi

echo "pocketbase: building $bin with $("$go_bin" version) and cgo ($cc_bin; tags: $tags); the first build compiles SQLite from C and takes 2-3 minutes on 2 cores, with no output until it is done"
mkdir -p "$here/bin"
# Build to a temporary name and rename, so a concurrent caller never executes a half-written binary.
tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT
start=$SECONDS
version="$(cd "$here" && "$go_bin" list -m -f '{{.Version}}' github.com/pocketbase/pocketbase)"
(cd "$here" && CGO_ENABLED=1 "$go_bin" build -tags "$tags" -trimpath -buildvcs=false \
  -ldflags "-s -w -X github.com/pocketbase/pocketbase.Version=${version#v}" -o "$tmp" .)
mv -f "$tmp" "$bin"
echo "pocketbase: built $("$bin" --version) in $((SECONDS - start))s"
