#!/usr/bin/env bash
# Benchmark: certinit's diagnosis commands against the manual procedure they
# replace, on the same files and the same local server (openssl s_server on
# 127.0.0.1, TLS 1.3, ECDSA P-256 chain made by openssl):
#   probe  - `certinit probe` vs `openssl s_client -verify_return_error`
#            (connect, handshake, verify chain and name);
#   check  - `certinit check --cert --key --cafile --min-validity` vs
#            `openssl verify` + public-key comparison + `x509 -checkend`;
#   embed  - `certinit embed --format c-der` vs `xxd -i`.
# Figures are hyperfine means over RUNS runs. Prints rows of the README's
# benchmark table. Needs: $CERTINIT (the built binary), openssl, hyperfine, xxd.
set -euo pipefail
cd "$(dirname "$0")/.."
CERTINIT="${CERTINIT:-$PWD/bin/certinit}"
if [ "${BENCH_QUICK:-0}" = 1 ]; then RUNS="${RUNS:-5}"; else RUNS="${RUNS:-50}"; fi
for tool in openssl hyperfine xxd; do
  command -v "$tool" >/dev/null || { echo "bench/60-probe.sh: $tool missing (make deps)" >&2; exit 1; }
done
[ -x "$CERTINIT" ] || { echo "bench/60-probe.sh: $CERTINIT missing (make build)" >&2; exit 1; }

work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

# A CA and a server certificate for localhost.
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -subj "/CN=Bench Root" -days 90 2>/dev/null
openssl req $ec -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 90 -extfile ext.cnf 2>/dev/null
openssl x509 -in server.pem -outform der -out server.der

# The server: s_server prints "ACCEPT HOST:PORT" once it listens.
: > server.log
openssl s_server -accept 127.0.0.1:0 -cert server.pem -key server.key -www > server.log 2>&1 &
server_pid=$!
addr=""
for _ in $(seq 1 100); do
  addr="$(sed -n 's/^ACCEPT //p' server.log)"
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "bench/60-probe.sh: s_server exited: $(cat server.log)" >&2; exit 1; }
  sleep 0.05 # polling the log for readiness, with a 5 s bound
done
[ -n "$addr" ] || { echo "bench/60-probe.sh: s_server did not start" >&2; exit 1; }

cat > manual-check.sh <<'SH'
#!/bin/sh
# What people run by hand: chain, key pair, 30 days of validity left.
set -e
openssl verify -CAfile ca.pem server.pem >/dev/null
[ "$(openssl x509 -noout -pubkey -in server.pem)" = "$(openssl pkey -pubout -in server.key)" ]
openssl x509 -noout -checkend 2592000 -in server.pem >/dev/null
SH
chmod +x manual-check.sh

probe=("$CERTINIT" probe "$addr" --servername localhost --cafile ca.pem)
sclient="openssl s_client -connect $addr -servername localhost -verify_hostname localhost -CAfile ca.pem -no-CApath -no-CAstore -verify_return_error -brief"
check=("$CERTINIT" check --cert server.pem --key server.key --cafile ca.pem --min-validity 720h)

# Both sides must succeed before they are timed.
"${probe[@]}" >/dev/null || { echo "bench/60-probe.sh: certinit probe did not say ok" >&2; exit 1; }
$sclient </dev/null >/dev/null 2>&1 || { echo "bench/60-probe.sh: openssl s_client failed" >&2; exit 1; }
"${check[@]}" >/dev/null || { echo "bench/60-probe.sh: certinit check found problems" >&2; exit 1; }
./manual-check.sh || { echo "bench/60-probe.sh: manual check failed" >&2; exit 1; }

# mean_ms CSV LINE: the mean of row LINE (1 = first command) in milliseconds.
mean_ms() { awk -F, -v n="$2" 'NR == n + 1 {printf "%.1f", $2 * 1000}' "$1"; }
row() { # NAME CSV REFERENCE_TOOL
  local c r
  c="$(mean_ms "$2" 1)"
  r="$(mean_ms "$2" 2)"
  echo "| $1 | ${c} ms | ${r} ms | $3 | $(awk -v a="$c" -v b="$r" 'BEGIN {printf "%.2f", a/b}') |"
}
bench() { # CSV CMD1 CMD2
  hyperfine --runs "$RUNS" --warmup 3 --style none --export-csv "$1" -N "$2" "$3" >/dev/null 2>&1
}

bench probe.csv "${probe[*]}" "$sclient"
row "probe: connect, handshake, verify chain and name (local TLS 1.3)" probe.csv "openssl s_client -verify_return_error"
bench check.csv "${check[*]}" "./manual-check.sh"
row "check: cert/key pair, chain, 30 days left" check.csv "openssl verify + pkey compare + x509 -checkend"
bench embed.csv "$CERTINIT embed --format c-der --name server_der server.der" "xxd -i server.der"
row "embed: one certificate as a C array" embed.csv "xxd -i"
