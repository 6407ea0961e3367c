#!/usr/bin/env bash
# Installs stripe-mock (Stripe's official API mock, a Go program) into infra/stripe-mock/bin with `go install`
# through the Go module proxy, pinned to one version. Skipped when that version is already there.
set -euo pipefail

VERSION="v0.203.0"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/bin/stripe-mock"
stamp="$here/bin/.version"

if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$VERSION" ]]; then
  echo "stripe-mock: $bin $VERSION is installed"
  exit 0
fi

go_bin="$(command -v go || true)"
if [[ -z "$go_bin" && -x /usr/local/go/bin/go ]]; then go_bin=/usr/local/go/bin/go; fi
if [[ -z "$go_bin" ]]; then
  echo "stripe-mock: Go is required to install stripe-mock but was not found on PATH or in /usr/local/go." >&2
  exit 1
fi

echo "stripe-mock: installing github.com/stripe/stripe-mock@$VERSION with $("$go_bin" version)"
mkdir -p "$here/bin"
# Install into a temporary GOBIN and rename, so a concurrent caller never runs a half-written binary.
tmp="$(mktemp -d "$here/bin/.install.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" GOFLAGS=-buildvcs=false "$go_bin" install "github.com/stripe/stripe-mock@$VERSION"
mv -f "$tmp/stripe-mock" "$bin"
echo "$VERSION" > "$stamp"
echo "stripe-mock: installed $bin"
