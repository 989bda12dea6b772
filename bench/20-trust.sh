#!/usr/bin/env bash
# Adds one CA to a copy of the stock Debian trust store (the machine's
# Mozilla certificates, /etc/ssl/certs made by update-ca-certificates) with
# `certinit trust install` and with Debian's update-ca-certificates, best of
# $RUNS runs each, every run on a fresh copy. update-ca-certificates runs in
# a private mount namespace (the copy bind-mounted over the system paths),
# and only the tool itself is timed, not the namespace set-up.
# Prints one row of the README's benchmark table. Needs root (namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
CERTINIT=${CERTINIT:-$PWD/bin/certinit}
if [ "${BENCH_QUICK:-0}" = 1 ]; then RUNS=${RUNS:-1}; else RUNS=${RUNS:-7}; fi
UPDATE=$(command -v update-ca-certificates || echo /usr/sbin/update-ca-certificates)
[ -x "$UPDATE" ] || { echo "bench/20-trust.sh: update-ca-certificates not installed" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench/20-trust.sh: needs root for unshare -m" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tmpl=$work/stock
mkdir -p "$tmpl/usr/share/ca-certificates/mozilla" "$tmpl/usr/local/share/ca-certificates" "$tmpl/etc/ssl/certs"
cp -a /usr/share/ca-certificates/mozilla/. "$tmpl/usr/share/ca-certificates/mozilla/"
(cd "$tmpl/usr/share/ca-certificates" && find mozilla -name '*.crt' | LC_ALL=C sort) > "$tmpl/etc/ca-certificates.conf"

# run_tool ROOT [ARGS...]: update-ca-certificates on ROOT's store; prints
# the tool's own run time in nanoseconds.
run_tool() {
  local root=$1; shift
  unshare -m sh -c '
    set -e
    root=$1 update=$2; shift 2
    mount --make-rprivate /
    mount --bind "$root/etc/ssl" /etc/ssl
    mount --bind "$root/usr/share/ca-certificates" /usr/share/ca-certificates
    mount --bind "$root/usr/local/share/ca-certificates" /usr/local/share/ca-certificates
    mount --bind "$root/etc/ca-certificates.conf" /etc/ca-certificates.conf
    t0=$(date +%s%N)
    LC_ALL=C "$update" --hooksdir /nonexistent "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    echo $((t1 - t0))' sh "$root" "$UPDATE" "$@"
}
run_tool "$tmpl" --fresh >/dev/null

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" \
  -out "$work/ca.pem" -subj "/CN=Bench Private Root CA/O=certinit bench" -days 30 2>/dev/null

best_certinit=""
best_tool=""
for i in $(seq "$RUNS"); do
  rm -rf "$work/a" "$work/b"
  cp -a "$tmpl" "$work/a"
  cp -a "$tmpl" "$work/b"
  t0=$(date +%s%N)
  "$CERTINIT" trust install --root "$work/a" --store debian "$work/ca.pem" >/dev/null
  t1=$(date +%s%N)
  ns=$((t1 - t0))
  [ -z "$best_certinit" ] || [ "$ns" -lt "$best_certinit" ] && best_certinit=$ns
  cp "$work/ca.pem" "$work/b/usr/local/share/ca-certificates/bench-ca.crt"
  ns=$(run_tool "$work/b")
  [ -z "$best_tool" ] || [ "$ns" -lt "$best_tool" ] && best_tool=$ns
done

ms() { awk -v n="$1" 'BEGIN { printf "%.1f ms", n / 1e6 }'; }
ratio=$(awk -v a="$best_certinit" -v b="$best_tool" 'BEGIN { printf "%.3f", a / b }')
ncerts=$(ls "$tmpl/usr/share/ca-certificates/mozilla" | wc -l)
echo "| trust install: 1 CA into a stock Debian store ($ncerts roots), best of $RUNS | $(ms "$best_certinit") | $(ms "$best_tool") | update-ca-certificates | $ratio |"
