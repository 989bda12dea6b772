#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given time each (default 60s).
# `make fuzz FUZZTIME=10m` for the long run; `make test` runs each for a few
# seconds. New crashers land in the package's testdata/fuzz/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-60s}
status=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | sort -u || true)
  for t in $targets; do
    echo "fuzz: $pkg $t for $time"
    if ! go test -run '^$' -fuzz "^${t}\$" -fuzztime "$time" "$pkg"; then
      status=1
    fi
  done
done
exit $status
