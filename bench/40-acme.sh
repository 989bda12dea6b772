#!/usr/bin/env bash
# Benchmarks certinit's certificate issuers against the reference tools, in
# the same run, and prints rows of the README's benchmark table:
#   - ACME issuance (new account, HTTP-01, real validation) from a real Pebble:
#     `certinit acme obtain` vs `certbot certonly --standalone`;
#   - a restart while the certificate is valid (nothing to do):
#     `certinit acme obtain` vs `certbot certonly --keep-until-expiring`;
#   - a local CA and a leaf for localhost and 127.0.0.1:
#     `certinit acme obtain --issuer local` vs the openssl commands that do it.
# Needs: bin/certinit (make build), .bin/pebble and .bin/pebble-challtestsrv,
# certbot, openssl, hyperfine, python3 (make deps installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
CERTINIT=${CERTINIT:-$PWD/bin/certinit}
PEBBLE=$PWD/.bin/pebble
CHALLTESTSRV=$PWD/.bin/pebble-challtestsrv
if [ "${BENCH_QUICK:-0}" = 1 ]; then RUNS=${BENCH_RUNS:-1}; else RUNS=${BENCH_RUNS:-5}; fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # wait_for WHAT COMMAND...: poll until COMMAND succeeds (30 s)
  local what=$1; shift
  for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench/40-acme.sh: $what did not start" >&2; exit 1
}

# Pebble with its own HTTPS certificate, challtestsrv resolving every name to 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=pebble \
  -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
  -keyout "$work/pebble-key.pem" -out "$work/pebble-cert.pem" 2>/dev/null
dns=$(free_port); listen=$(free_port); mgmt=$(free_port); http=$(free_port); tlsport=$(free_port)
"$CHALLTESTSRV" -dnsserver "127.0.0.1:$dns" -management "127.0.0.1:$(free_port)" -http01 "" -https01 "" \
  -tlsalpn01 "" -doh "" -defaultIPv4 127.0.0.1 -defaultIPv6 "" >"$work/challtestsrv.log" 2>&1 &
pids+=($!)
wait_for pebble-challtestsrv bash -c "exec 3<>/dev/tcp/127.0.0.1/$dns" # DNS serves TCP and UDP
cat >"$work/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$listen", "managementListenAddress": "127.0.0.1:$mgmt",
  "certificate": "$work/pebble-cert.pem", "privateKey": "$work/pebble-key.pem",
  "httpPort": $http, "tlsPort": $tlsport, "retryAfter": {"authz": 1, "order": 1},
  "keyAlgorithm": "ecdsa", "profiles": {"default": {"description": "only", "validityPeriod": 7776000}}}}
EOF
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
  "$PEBBLE" -config "$work/pebble.json" -dnsserver "127.0.0.1:$dns" >"$work/pebble.log" 2>&1 &
pids+=($!)
dir="https://127.0.0.1:$listen/dir"
export REQUESTS_CA_BUNDLE="$work/pebble-cert.pem" # certbot's trust for Pebble's HTTPS
wait_for pebble bash -c "exec 3<>/dev/tcp/127.0.0.1/$listen"

name=bench.certinit.test
ci_obtain="$CERTINIT --log-level error acme obtain --domain $name --out $work/ci/out --directory $dir --acme-ca $work/pebble-cert.pem --http-addr 127.0.0.1:$http --tls-addr ''"
cb_obtain="certbot certonly --standalone --non-interactive --agree-tos --register-unsafely-without-email --quiet \
  --server $dir --preferred-challenges http --http-01-address 127.0.0.1 --http-01-port $http -d $name \
  --config-dir $work/cb/etc --work-dir $work/cb/work --logs-dir $work/cb/logs"

# row NAME TOOL JSON: one table row from hyperfine's JSON (certinit first).
row() {
  python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
name, tool, path = sys.argv[1:]
r = json.load(open(path))["results"]
fmt = lambda x: f"{x['mean']*1000:.0f} ms ± {(x['stddev'] or 0)*1000:.0f}" if x['mean'] < 1 else f"{x['mean']:.2f} s ± {(x['stddev'] or 0):.2f}"
print(f"| {name} | {fmt(r[0])} | {fmt(r[1])} | {tool} | {r[0]['mean']/r[1]['mean']:.2f} |")
EOF
}

hyperfine -N --runs "$RUNS" --export-json "$work/issue.json" --style none \
  --prepare "rm -rf $work/ci" "$ci_obtain" --prepare "rm -rf $work/cb" "$cb_obtain" >/dev/null
row "ACME issuance from Pebble, new account, HTTP-01" "certbot $(certbot --version 2>&1 | cut -d' ' -f2) certonly --standalone" "$work/issue.json"

# The last runs left a valid certificate in each cache: a restart has nothing to do.
hyperfine -N --runs $((RUNS * 2)) --export-json "$work/noop.json" --style none \
  "$ci_obtain" "$cb_obtain --keep-until-expiring" >/dev/null
row "restart with a valid certificate (nothing to renew)" "certbot certonly --keep-until-expiring" "$work/noop.json"

cat >"$work/openssl-local.sh" <<EOF
set -e
cd $work/os
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=local CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -keyout privkey.pem -out leaf.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >ext.cnf
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 90 -extfile ext.cnf -out cert.pem 2>/dev/null
cat cert.pem ca.pem >fullchain.pem
EOF
hyperfine -N --runs $((RUNS * 4)) --export-json "$work/local.json" --style none \
  --prepare "rm -rf $work/lc" "$CERTINIT --log-level error acme obtain --issuer local --domain localhost --domain 127.0.0.1 --out $work/lc/out" \
  --prepare "bash -c 'rm -rf $work/os; mkdir -p $work/os'" "bash $work/openssl-local.sh" >/dev/null
row "local CA + leaf (localhost, 127.0.0.1)" "openssl $(openssl version | cut -d' ' -f2) req/x509 (4 commands)" "$work/local.json"
