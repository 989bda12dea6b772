#!/usr/bin/env bash
# `make demo`: certinit's main job end to end, offline, in a temporary
# directory: local CA -> broker certificate -> sandbox trust store and capath
# -> Mosquitto under `certinit run` -> publish/subscribe over TLS -> renewal
# and live reload while a subscriber stays connected -> probe -> clean stop.
#
# Every step checks that it really happened (a served serial, a received
# message, a verdict, an exit code) and a failure names the step. Exits 0
# only if every step passed; the temporary directory and every process the
# demo started are removed on every exit path.
#
# Environment: CERTINIT (a built binary; default: build bin/certinit with
# `make build`), MOSQUITTO (default: mosquitto on PATH or /usr/sbin).
# Needs mosquitto, mosquitto_pub, mosquitto_sub and openssl (make deps).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

if [ -t 1 ]; then bold=$'\033[1m' red=$'\033[31m' off=$'\033[0m'; else bold="" red="" off=""; fi
current="setup"
tmp="" run_pid="" sub_pid="" child_pid="" reported=""

# step NAME TEXT: start a step; a failure from here on names it.
step() { current=$1; printf '\n%s==> %s: %s%s\n' "$bold" "$1" "$2" "$off"; }
# say TEXT: one line of narration inside a step.
say() { printf '%s\n' "$*" | sed 's/^/    /'; }
# fail WHY: stop the demo, naming the step.
fail() {
  reported=1
  printf '%sdemo: FAILED in step "%s": %s%s\n' "$red" "$current" "$*" "$off" >&2
  if [ -n "$tmp" ] && [ -s "$tmp/run.log" ]; then
    echo "--- last lines of certinit run's log ($tmp/run.log) ---" >&2
    tail -n 15 "$tmp/run.log" >&2
  fi
  exit 1
}
# wait_for SECONDS CMD...: poll CMD until it succeeds (no blind sleeps).
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

cleanup() {
  local rc=$?
  set +e
  if alive "$sub_pid"; then kill "$sub_pid"; wait "$sub_pid"; fi 2>/dev/null
  if alive "$run_pid"; then
    kill -TERM "$run_pid"
    wait_for 15 eval '! kill -0 "$run_pid"' || kill -KILL "$run_pid"
    wait "$run_pid"
  fi 2>/dev/null
  # The broker, should certinit have died without stopping it.
  if [ -n "$tmp" ]; then
    for p in $child_pid $(pgrep -f "$tmp/mosquitto.conf"); do kill -KILL "$p"; done 2>/dev/null
  fi
  if [ "$rc" != 0 ] && [ -z "$reported" ]; then
    printf '%sdemo: FAILED in step "%s" (exit %s)%s\n' "$red" "$current" "$rc" "$off" >&2
  fi
  [ -n "$tmp" ] && rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
for t in "$MOSQUITTO" mosquitto_pub mosquitto_sub openssl; do
  command -v "$t" >/dev/null || fail "$t is missing: run \`make deps\` as root"
done

step build "build certinit (a static Go binary)"
if [ -z "${CERTINIT:-}" ]; then
  make --no-print-directory build >/dev/null || fail "make build failed"
  CERTINIT=$PWD/bin/certinit
fi
[ -x "$CERTINIT" ] || fail "$CERTINIT is not an executable"
say "$("$CERTINIT" version) at $CERTINIT"
kind=$(file -b "$CERTINIT" 2>/dev/null || true)
case $kind in
*"statically linked"*) say "static binary, $(($(stat -c %s "$CERTINIT") / 1024)) KiB, no shared libraries: copy it into any image" ;;
*) say "note: not a static binary ($kind)" ;;
esac

# In /tmp, not $TMPDIR: the broker's user must reach it (a private TMPDIR,
# such as a test's, is 0700).
tmp=$(mktemp -d /tmp/certinit-demo.XXXXXX)
chmod 755 "$tmp" # the broker reads its copies after dropping to its own user
say "working in $tmp (removed at exit)"
# The user certinit hands the broker's copies to: Mosquitto started as root
# drops to user mosquitto before it loads certificates.
owner=$(id -un)
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then owner=mosquitto; fi

step obtain "a broker certificate for localhost and 127.0.0.1 from the local CA (no network, no account)"
obtain() {
  "$CERTINIT" --log-level warn acme obtain --issuer local --domain localhost --domain 127.0.0.1 \
    --out "$tmp/certs" --cache "$tmp/cache" --local-validity 24h "$@"
}
out=$(obtain) || fail "certinit acme obtain failed"
say "$out"
for f in cert chain fullchain privkey; do
  [ -s "$tmp/certs/$f.pem" ] || fail "$tmp/certs/$f.pem was not written"
done
[ "$(stat -c %a "$tmp/certs/privkey.pem")" = 600 ] || fail "privkey.pem is not 0600"
openssl verify -no-CAfile -no-CApath -no-CAstore -CAfile "$tmp/certs/chain.pem" "$tmp/certs/cert.pem" >/dev/null ||
  fail "openssl does not verify cert.pem against the local CA in chain.pem"
say "cert.pem, chain.pem, fullchain.pem, privkey.pem (0600) in $tmp/certs; openssl verify: OK"

step trust "install the local CA into a sandbox OS trust store (--root) and a capath directory (--store dir:)"
mkdir "$tmp/root" # an empty root, as in a scratch image
"$CERTINIT" --log-level warn trust install --root "$tmp/root" "$tmp/certs/chain.pem" | sed 's/^/    /' ||
  fail "trust install --root failed"
say "(the paths above are inside the sandbox root $tmp/root)"
bundle=$tmp/root/etc/ssl/certs/ca-certificates.crt
openssl verify -no-CApath -no-CAstore -CAfile "$bundle" "$tmp/certs/cert.pem" >/dev/null ||
  fail "the sandbox bundle $bundle does not make openssl trust the broker certificate"
"$CERTINIT" --log-level warn trust install --store "dir:$tmp/capath" "$tmp/certs/chain.pem" | sed 's/^/    /' ||
  fail "trust install --store dir: failed"
link=$(find "$tmp/capath" -maxdepth 1 -type l -name '*.0' -printf '%f -> %l\n' | head -n 1)
[ -n "$link" ] || fail "no hash link in $tmp/capath"
openssl verify -no-CAfile -no-CAstore -CApath "$tmp/capath" "$tmp/certs/cert.pem" >/dev/null ||
  fail "openssl -CApath $tmp/capath does not trust the broker certificate"
ca_line=$(sed -n 2p "$tmp/certs/chain.pem")
! grep -qF -- "$ca_line" /etc/ssl/certs/ca-certificates.crt 2>/dev/null ||
  fail "the local CA reached the machine's own trust store"
say "capath hash link $link; openssl verify with each store: OK; the machine's /etc/ssl is untouched"

step start "Mosquitto under certinit run, TLS listener on 127.0.0.1"
# A free port: random, skipping any that accepts a connection; should
# another process take it first, the broker fails to start and this step says so.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((20000 + RANDOM % 20000))
until port_free "$port"; do port=$((20000 + RANDOM % 20000)); done
cat >"$tmp/mosquitto.conf" <<EOF
per_listener_settings false
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
listener $port 127.0.0.1
certfile $tmp/broker/fullchain.pem
keyfile $tmp/broker/privkey.pem
allow_anonymous true
EOF
# certinit validates the pair, copies it to $tmp/broker for user $owner,
# starts the broker, and watches certs/ for a renewal.
"$CERTINIT" run --cert "$tmp/certs/fullchain.pem" --key "$tmp/certs/privkey.pem" \
  --copy-to "$tmp/broker" --owner "$owner" -- "$MOSQUITTO" -c "$tmp/mosquitto.conf" >"$tmp/run.log" 2>&1 &
run_pid=$!
serial() { # the serial the broker serves now, empty if none
  openssl s_client -connect "127.0.0.1:$port" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}
settled() { ! alive "$run_pid" || [ -n "$(serial)" ]; } # serving, or certinit gone
wait_for 20 settled || fail "the broker did not serve TLS on 127.0.0.1:$port within 20 s"
alive "$run_pid" || fail "certinit run exited before the broker served TLS on 127.0.0.1:$port"
child_pid=$(sed -n 's/.*msg="child started" pid=\([0-9]*\).*/\1/p' "$tmp/run.log" | head -n 1)
[ -n "$child_pid" ] || fail "certinit run did not log the broker's pid"
old_serial=$(serial)
key_owner=$(stat -c %U "$tmp/broker/privkey.pem")
[ "$key_owner" = "$owner" ] || fail "the broker's key copy belongs to $key_owner, not $owner"
say "certinit (pid $run_pid) copied the pair to $tmp/broker (key owned by $owner) and started mosquitto (pid $child_pid)"
say "broker on 127.0.0.1:$port serves serial $old_serial"

step pubsub "publish and subscribe over TLS, verifying the broker through the capath certinit hashed"
# A retained message reaches the subscriber when it subscribes; had the
# subscriber to reconnect later, it would receive it a second time.
mosquitto_pub -h localhost -p "$port" --capath "$tmp/capath" -t demo/topic -m 'hello before renewal' -r -q 1 ||
  fail "mosquitto_pub over TLS failed"
mosquitto_sub -h localhost -p "$port" --capath "$tmp/capath" -t demo/topic -v >"$tmp/sub.out" 2>&1 &
sub_pid=$!
wait_for 15 grep -q 'hello before renewal' "$tmp/sub.out" ||
  fail "the subscriber did not receive the retained message: $(cat "$tmp/sub.out")"
say "mosquitto_pub -r (retained) -> mosquitto_sub (pid $sub_pid) received: $(cat "$tmp/sub.out")"

step renew "renew the certificate; certinit validates the new pair, copies it and reloads the broker"
# acme obtain renews when a third of the lifetime is left; the demo cannot
# wait sixteen hours, so it forces the renewal (as certbot --force-renewal).
out=$(obtain --force-renewal) || fail "certinit acme obtain --force-renewal failed"
t0=$(date +%s%N)
say "$out"
renewed=$(openssl x509 -noout -serial -in "$tmp/certs/cert.pem" | cut -d= -f2)
[ "$renewed" != "$old_serial" ] || fail "obtain wrote the same serial again"
new_served() { [ "$(serial)" = "$renewed" ]; }
wait_for 15 new_served || fail "the broker still serves serial $(serial), not the renewed $renewed"
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q 'msg=reloading signal=HUP' "$tmp/run.log" || fail "certinit run did not log the reload"
alive "$child_pid" || fail "the broker was restarted instead of reloaded"
say "certinit: $(grep -m1 'msg=reloading' "$tmp/run.log" | sed 's/^time=[^ ]* //')"
say "reload: the broker (same pid $child_pid) now serves serial $renewed (was $old_serial), ${ms} ms after the renewal"

step subscriber "the subscriber connected before the renewal is still connected"
alive "$sub_pid" || fail "mosquitto_sub exited: $(cat "$tmp/sub.out")"
mosquitto_pub -h localhost -p "$port" --capath "$tmp/capath" -t demo/topic -m 'hello after renewal' -q 1 ||
  fail "mosquitto_pub over TLS after the reload failed"
wait_for 15 grep -q 'hello after renewal' "$tmp/sub.out" || fail "the subscriber did not receive the message sent after the reload"
[ "$(grep -c 'hello before renewal' "$tmp/sub.out")" = 1 ] ||
  fail "the subscriber reconnected (it received the retained message twice)"
kill "$sub_pid" 2>/dev/null
wait "$sub_pid" 2>/dev/null || true
sub_pid=""
say "same mosquitto_sub received: $(tail -n 1 "$tmp/sub.out") (and the retained message only once: no reconnect)"

step probe "certinit probe --mqtt: the diagnosis a client would get"
code=0
"$CERTINIT" probe "localhost:$port" --capath "$tmp/capath" --mqtt >"$tmp/probe.out" 2>&1 || code=$?
grep -E '^(TLS|verified chain|mqtt|verdict)' "$tmp/probe.out" | sed 's/^/    /' || true
grep -qx 'verdict: ok' "$tmp/probe.out" && [ "$code" = 0 ] ||
  fail "probe did not say ok (exit $code): $(tail -n 3 "$tmp/probe.out")"

step stop "SIGTERM to certinit, which stops the broker and exits with its code"
kill -TERM "$run_pid"
wait_for 15 eval '! kill -0 "$run_pid"' || fail "certinit run did not exit within 15 s of SIGTERM"
code=0
wait "$run_pid" || code=$?
run_pid=""
[ "$code" = 0 ] || fail "certinit run exited with $code, not the broker's 0"
grep -q "msg=\"child exited\" pid=$child_pid code=0" "$tmp/run.log" ||
  fail "certinit run did not report the broker's exit"
! alive "$child_pid" || fail "the broker (pid $child_pid) is still running"
! pgrep -f "$tmp/mosquitto.conf" >/dev/null || fail "a mosquitto process was left behind"
child_pid=""
say "certinit run exited with 0 (the broker's code); no mosquitto process left"

current="done"
printf '\n%sdemo: every step passed in %d s%s\n' "$bold" $((SECONDS - started)) "$off"
