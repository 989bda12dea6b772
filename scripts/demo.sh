#!/usr/bin/env bash
# `make demo`: certinit's main job end to end, offline, in a temporary
# directory. Local CA -> broker certificate -> sandbox trust store and capath
# -> Mosquitto under `certinit run` -> publish/subscribe over TLS -> renewal
# and live reload while a subscriber stays connected -> probe -> clean stop.
# Exits 0 only if every step really happened.
set -euo pipefail
cd "$(dirname "$0")/.."
CERTINIT=${CERTINIT:-$PWD/bin/certinit}
MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
[ -x "$CERTINIT" ] || { echo "demo: build first (make build)" >&2; exit 1; }
for t in "$MOSQUITTO" mosquitto_pub mosquitto_sub openssl; do
  command -v "$t" >/dev/null || [ -x "$t" ] || { echo "demo: $t missing: run make deps as root" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/certinit-demo.XXXXXX)
run_pid=""; sub_pid=""
cleanup() {
  [ -n "$sub_pid" ] && kill "$sub_pid" 2>/dev/null || true
  [ -n "$run_pid" ] && kill -TERM "$run_pid" 2>/dev/null && wait "$run_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }
# wait_for SECONDS CMD...: poll CMD until it succeeds (no blind sleeps).
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}
# A free port on 127.0.0.1: random, skipping any that accepts a connection.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((20000 + RANDOM % 20000))
until port_free "$port"; do port=$((20000 + RANDOM % 20000)); done
serial() {
  openssl s_client -connect "127.0.0.1:$port" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}

step "1. certinit $("$CERTINIT" version | cut -d' ' -f2) built at $CERTINIT"

step "2. Obtain a broker certificate for localhost from the local CA (no network, no account)"
"$CERTINIT" acme obtain --issuer local --domain localhost --domain 127.0.0.1 \
  --out "$tmp/certs" --cache "$tmp/cache" --local-validity 1h
ls -l "$tmp/certs"

step "3. Install the local CA into a sandbox OS trust store (--root) and a capath directory"
mkdir -p "$tmp/root"
"$CERTINIT" trust install --root "$tmp/root" "$tmp/certs/chain.pem"
"$CERTINIT" trust install --store "dir:$tmp/capath" "$tmp/certs/chain.pem"
ls -l "$tmp/capath" | sed -n '2,10p'

step "4. Start Mosquitto under certinit run, TLS listener on 127.0.0.1:$port"
cat >"$tmp/mosquitto.conf" <<EOF
per_listener_settings false
persistence false
log_dest stderr
listener $port 127.0.0.1
certfile $tmp/broker/fullchain.pem
keyfile $tmp/broker/privkey.pem
allow_anonymous true
EOF
"$CERTINIT" run --cert "$tmp/certs/fullchain.pem" --key "$tmp/certs/privkey.pem" \
  --copy-to "$tmp/broker" -- "$MOSQUITTO" -c "$tmp/mosquitto.conf" >"$tmp/run.log" 2>&1 &
run_pid=$!
wait_for 15 sh -c "[ -n \"\$(openssl s_client -connect 127.0.0.1:$port </dev/null 2>/dev/null | grep -m1 'BEGIN CERT')\" ]" ||
  { cat "$tmp/run.log"; fail "broker did not start"; }
old_serial=$(serial)
echo "broker is serving certificate serial $old_serial"

step "5. Publish and subscribe over TLS, verifying the broker through the capath certinit hashed"
# A retained message reaches the subscriber whenever it subscribes; if the
# subscriber ever reconnected it would receive it a second time.
mosquitto_pub -h localhost -p "$port" --capath "$tmp/capath" -t demo/topic -m 'hello before renewal' -r -q 1 ||
  fail "publish over TLS failed"
mosquitto_sub -h localhost -p "$port" --capath "$tmp/capath" -t demo/topic -v >"$tmp/sub.out" 2>&1 &
sub_pid=$!
wait_for 10 grep -q 'hello before renewal' "$tmp/sub.out" || fail "subscriber did not receive the message"
cat "$tmp/sub.out"

step "6. Renew the certificate; certinit validates the new pair and reloads the broker with SIGHUP"
"$CERTINIT" acme obtain --issuer local --domain localhost --domain 127.0.0.1 \
  --out "$tmp/certs" --cache "$tmp/cache" --local-validity 1h --renew-before 2h
wait_for 10 sh -c "[ \"\$(openssl s_client -connect 127.0.0.1:$port -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -serial | cut -d= -f2)\" != '$old_serial' ]" ||
  { cat "$tmp/run.log"; fail "the broker still serves the old certificate"; }
new_serial=$(serial)
grep -E 'reload' "$tmp/run.log" | tail -n 2 || true
echo "reload: the broker now serves serial $new_serial (was $old_serial)"

step "7. The subscriber connected before the renewal is still connected"
mosquitto_pub -h localhost -p "$port" --capath "$tmp/capath" -t demo/topic -m 'hello after renewal' -q 1
wait_for 10 grep -q 'hello after renewal' "$tmp/sub.out" || fail "subscriber did not receive the message after the reload"
kill "$sub_pid" 2>/dev/null; wait "$sub_pid" 2>/dev/null || true
sub_pid=""
cat "$tmp/sub.out"
[ "$(grep -c 'hello before renewal' "$tmp/sub.out")" = 1 ] || fail "the subscriber reconnected (it got the retained message twice)"

step "8. certinit probe --mqtt: the diagnosis a client would get"
"$CERTINIT" probe "localhost:$port" --capath "$tmp/capath" --mqtt || fail "probe did not say ok"

step "9. Stop: SIGTERM to certinit, which stops the broker and exits with its code"
kill -TERM "$run_pid"
code=0; wait "$run_pid" || code=$?
run_pid=""
echo "certinit run exited with $code"
if pgrep -f "$tmp/mosquitto.conf" >/dev/null; then fail "a broker process was left behind"; fi
[ "$code" = 0 ] || fail "unexpected exit code $code"

printf '\n\033[1mdemo: every step passed\033[0m\n'
