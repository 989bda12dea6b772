#!/usr/bin/env bash
# Runs every benchmark script in bench/ in name order; each prints its rows of
# the table in README.md ("| what | certinit | reference | ratio |").
set -euo pipefail
cd "$(dirname "$0")/.."
export CERTINIT="$PWD/bin/certinit"
echo "| benchmark | certinit | reference | reference tool | ratio (certinit/reference) |"
echo "| --- | --- | --- | --- | --- |"
for f in bench/*.sh; do
  [ -e "$f" ] || continue
  bash "$f"
done
