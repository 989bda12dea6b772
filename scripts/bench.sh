#!/usr/bin/env bash
# `make bench`: prints one markdown table (README.md carries it), in which
# every row measures certinit and the reference tool it replaces side by side
# in the same run on this machine. Runs bench/*.sh in name order, or the ones
# named as arguments (`scripts/bench.sh 10-rehash 90-binary`); each script
# prints only its rows on stdout and its progress and errors on stderr.
#
# Environment: CERTINIT (default bin/certinit, from `make build`);
# BENCH_QUICK=1 shrinks sizes and repetitions to a smoke test of the scripts
# (its figures mean little). Needs root (mount namespaces for
# update-ca-certificates) and the tools `make deps` installs.
# A script that fails is named on stderr; the table goes on without its rows
# and the exit code is 1.
set -euo pipefail
cd "$(dirname "$0")/.."
export CERTINIT=${CERTINIT:-$PWD/bin/certinit}
export BENCH_QUICK=${BENCH_QUICK:-0}
[ -x "$CERTINIT" ] || { echo "scripts/bench.sh: $CERTINIT missing: run make build" >&2; exit 1; }

scripts=()
if [ $# -eq 0 ]; then
  scripts=(bench/*.sh)
else
  for a in "$@"; do scripts+=("bench/$(basename "${a%.sh}").sh"); done
fi
for f in "${scripts[@]}"; do
  [ -f "$f" ] || { echo "scripts/bench.sh: no $f" >&2; exit 2; }
done

# The command line, with the settings that change what is measured.
cmd="scripts/bench.sh${*:+ $*}"
[ -n "${MAKELEVEL:-}" ] && [ $# -eq 0 ] && cmd="make bench"
for v in BENCH_QUICK RUNS BENCH_RUNS REHASH_SIZES DISK_ROWS; do
  if [ -n "${!v:-}" ] && [ "${!v}" != 0 ]; then cmd="$v=${!v} $cmd"; fi
done
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "\`$cmd\` on $(date -u +%F), certinit $("$CERTINIT" version | cut -d' ' -f2)," \
  "Debian $(cat /etc/debian_version 2>/dev/null || echo '?'), Linux $(uname -r | cut -d- -f1)," \
  "$(nproc) × ${cpu:-unknown CPU}, load average $(cut -d' ' -f1 /proc/loadavg) at the start." \
  "Both columns of a row come from the same run; ratio = certinit / reference (below 1: certinit is faster or smaller)."
[ "$BENCH_QUICK" = 1 ] && echo "BENCH_QUICK=1: small sizes and few repetitions; a smoke test, not figures to publish."
echo
echo "| what | certinit | reference | reference tool | ratio |"
echo "| --- | --- | --- | --- | --- |"
failed=()
for f in "${scripts[@]}"; do
  echo "scripts/bench.sh: running $f" >&2
  t0=$SECONDS
  if ! bash "$f"; then
    echo "scripts/bench.sh: $f FAILED" >&2
    failed+=("$f")
  fi
  echo "scripts/bench.sh: $f took $((SECONDS - t0)) s" >&2
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "scripts/bench.sh: failed: ${failed[*]} (their rows are missing)" >&2
  exit 1
fi
