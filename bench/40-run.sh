#!/usr/bin/env bash
# certinit run: reload latency, restart latency, memory while watching,
# start-up cost. Needs $CERTINIT (default bin/certinit), openssl, mosquitto
# and its clients; root for the start-up reference when run has --trust
# (update-ca-certificates in a private mount namespace).
#
# Reload latency (bench_reload): from the moment a certbot-style renewal is
# in place (archive/ files written, live/ links swapped one by one) until
# openssl s_client sees the new certificate. certinit runs with its defaults
# (the pair checked at every event, copied to a directory owned by user
# mosquitto, SIGHUP); the reference is what a certbot deploy hook does by
# hand: cp, chown, kill -HUP, without validation. Both brokers run side by
# side, and each round renews both, one after the other, the order
# alternating, so a machine that drifts affects both alike. Median and
# worst of $ROUNDS renewals; a renewal that is not served within 10 s fails
# the benchmark.
# Memory: certinit's RSS while watching after those renewals, and its peak
# (VmHWM), next to the broker's own RSS for scale. With --metrics-addr
# (bench_metrics): the same after $METRIC_ROUNDS renewals, /metrics and
# /readyz asked after each as Prometheus (gzip accepted) and a readiness
# probe would, next to a run without it that gets the same renewals.
# Restart latency (bench_restart): a listener's cafile (which Mosquitto reads
# only at start) renamed over, until a client with a certificate from the
# new CA publishes: certinit run --restart-on with its default --debounce,
# against a hook that restarts the broker by hand; interleaved the same way.
# Start-up (bench_startup): time until COMMAND runs, against the shell
# entrypoint certinit replaces.
# BENCH_QUICK=1: 3 renewals, 5 start-ups. BENCH_RUN_PARTS: see the end.
set -euo pipefail
cd "$(dirname "$0")/.."
CERTINIT=${CERTINIT:-$PWD/bin/certinit}
if [ "${BENCH_QUICK:-0}" = 1 ]; then ROUNDS=3 STARTS=5 METRIC_ROUNDS=10; else ROUNDS=20 STARTS=30 METRIC_ROUNDS=100; fi
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

# --- certificates: one CA, a pair per renewal --------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -subj /CN=bench-ca -days 2 2>/dev/null
for n in $(seq 1 $((ROUNDS + 1))); do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "key$n.pem" -out "req$n.csr" \
    -subj /CN=localhost 2>/dev/null
  openssl x509 -req -in "req$n.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "cert$n.pem" -days 1 \
    -extfile <(echo "subjectAltName=IP:127.0.0.1") 2>/dev/null
done

# certbot_renew DIR N: what `certbot renew` does to a lineage.
certbot_renew() {
  local d=$1 n=$2
  mkdir -p "$d/archive/x" "$d/live/x"
  cp "cert$n.pem" "$d/archive/x/cert$n.pem"
  cp "cert$n.pem" "$d/archive/x/fullchain$n.pem"
  install -m 600 "key$n.pem" "$d/archive/x/privkey$n.pem"
  for k in cert privkey fullchain; do
    rm -f "$d/live/x/$k.pem"
    ln -s "../../archive/x/$k$n.pem" "$d/live/x/$k.pem"
  done
}

ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; } # from µs
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; } # from KiB
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "—"; else { r = a / b; printf(r < 0.1 ? "%.3f" : "%.2f", r) } }'; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
worst() { sort -n | tail -n 1; }
# The latency rounds read the shell's own clock, $EPOCHREALTIME (bash 5),
# in µs: forking date(1) for it costs milliseconds on a loaded machine.

# served PORT: serial the broker presents now.
served() {
  openssl s_client -connect "127.0.0.1:$1" -CAfile "$work/ca.pem" -verify_return_error </dev/null 2>/dev/null \
    | openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}

# wait_cert PORT PEM START: ms from START (µs) until the broker presents the
# certificate PEM (a certificate file's text). Each look is one openssl
# s_client, whose output is compared with PEM by the shell: the cost of a
# look is the resolution of the measurement, the same for both sides, so
# it is kept to one process. Fails after 10 s.
wait_cert() {
  local out now
  while :; do
    out=$(openssl s_client -connect "127.0.0.1:$1" -CAfile "$work/ca.pem" -verify_return_error </dev/null 2>/dev/null) || true
    now=${EPOCHREALTIME//[^0-9]/}
    [[ $out == *"$2"* ]] && break
    if ((now - $3 > 10000000)); then return 1; fi
  done
  echo $(((now - $3) / 1000))
}

conf() { # conf PORT CERTDIR
  printf 'listener %s 127.0.0.1\ncertfile %s/fullchain.pem\nkeyfile %s/privkey.pem\nallow_anonymous true\npersistence false\nlog_dest none\n' \
    "$1" "$2" "$2" > "$work/mosq-$1.conf"
  echo "$work/mosq-$1.conf"
}

free_port() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % 40000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

wait_up() { # wait_up PORT
  for _ in $(seq 1 200); do [ -n "$(served "$1")" ] && return 0; sleep 0.05; done
  echo "bench/40-run.sh: broker on port $1 did not come up" >&2; exit 1
}

owner=mosquitto
id mosquitto >/dev/null 2>&1 || owner=$(id -un)

# === reload latency and memory ==========================================
# interleave CI_ROUND REF_ROUND: for each renewal N (2 to $ROUNDS+1), one
# certinit round and one reference round, the order alternating, each
# $round_gap after the one before: renewals are days apart, and neither
# broker should still be busy with the previous round (certinit also leaves
# the copies alone for 100 ms after a signal, while the broker reads them).
# A round is a function of N that sets lat (ms) or fails; the latencies go
# to ci_times and ref_times. Rounds run in this shell: the reference restart
# round starts a new broker.
round_gap=0.25
interleave() {
  local n side
  ci_times=() ref_times=()
  for n in $(seq 2 $((ROUNDS + 1))); do
    for side in $(if [ $((n % 2)) = 0 ]; then echo ci ref; else echo ref ci; fi); do
      sleep "$round_gap"
      if [ "$side" = ci ]; then
        "$1" "$n" || exit 1
        ci_times+=("$lat")
      else
        "$2" "$n" || exit 1
        ref_times+=("$lat")
      fi
    done
  done
}

# summarize: ci_med, ref_med, ci_max, ref_max of ci_times and ref_times.
summarize() {
  ci_med=$(printf '%s\n' "${ci_times[@]}" | median)
  ref_med=$(printf '%s\n' "${ref_times[@]}" | median)
  ci_max=$(printf '%s\n' "${ci_times[@]}" | worst)
  ref_max=$(printf '%s\n' "${ref_times[@]}" | worst)
}

# ci_reload N: certinit's round: renew, then the ms until served.
ci_reload() {
  local want start
  want=$(<"cert$1.pem")
  certbot_renew "$work/le" "$1"
  start=${EPOCHREALTIME//[^0-9]/}
  lat=$(wait_cert "$port" "$want" "$start") ||
    { echo "bench/40-run.sh: certinit did not reload renewal $(($1 - 1)) within 10 s" >&2; return 1; }
}

# ref_reload N: the deploy hook's round, the same way.
ref_reload() {
  local want start
  want=$(<"cert$1.pem")
  certbot_renew "$work/le2" "$1"
  start=${EPOCHREALTIME//[^0-9]/}
  deploy_hook "$ref_pid"
  lat=$(wait_cert "$port2" "$want" "$start") ||
    { echo "bench/40-run.sh: the deploy hook's reload $(($1 - 1)) was not served within 10 s" >&2; return 1; }
}

deploy_hook() { # what certbot's --deploy-hook script does for Mosquitto
  cp "$work/le2/live/x/fullchain.pem" "$work/le2/live/x/privkey.pem" "$work/ref-certs/"
  chown "$owner" "$work/ref-certs/privkey.pem"
  chmod 600 "$work/ref-certs/privkey.pem"
  [ -z "${1:-}" ] || kill -HUP "$1"
}

bench_reload() {
  local port port2 ci_pid broker_pid lat rss_kb hwm_kb broker_kb ci_times ref_times ci_med ref_med ci_max ref_max
  port=$(free_port)
  port2=$(free_port)
  certbot_renew "$work/le" 1
  certbot_renew "$work/le2" 1
  mkdir -p "$work/ref-certs"
  deploy_hook
  "$CERTINIT" --log-level warn run --cert "$work/le/live/x/fullchain.pem" --key "$work/le/live/x/privkey.pem" \
    --copy-to "$work/ci-certs" --owner "$owner" -- mosquitto -c "$(conf "$port" "$work/ci-certs")" &
  ci_pid=$!
  pids+=("$ci_pid")
  mosquitto -c "$(conf "$port2" "$work/ref-certs")" &
  ref_pid=$!
  pids+=("$ref_pid")
  wait_up "$port"
  wait_up "$port2"
  interleave ci_reload ref_reload
  broker_pid=$(pgrep -P "$ci_pid" mosquitto | head -n 1)
  rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$ci_pid/status")
  hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$ci_pid/status")
  broker_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$broker_pid/status")
  kill -TERM "$ci_pid" "$ref_pid"
  wait "$ci_pid" "$ref_pid" 2>/dev/null || true
  summarize
  echo "| run: reload latency after a certbot renewal until the new certificate is served, median of $ROUNDS, rounds interleaved with the deploy hook's (target: ratio ≤ 1.0) | ${ci_med} ms | ${ref_med} ms | deploy hook: cp + chown + kill -HUP | $(ratio "$ci_med" "$ref_med") |"
  echo "| run: reload latency, worst of $ROUNDS (target < 250 ms) | ${ci_max} ms | ${ref_max} ms | deploy hook: cp + chown + kill -HUP | $(ratio "$ci_max" "$ref_max") |"
  echo "| run: RSS while supervising and watching, after $ROUNDS reloads (peak VmHWM; target ≤ 20 MiB) | $(mib "$rss_kb") (peak $(mib "$hwm_kb")) | $(mib "$broker_kb") | the broker it supervises (mosquitto), for scale | $(ratio "$rss_kb" "$broker_kb") |"
}

# === memory with --metrics-addr =========================================
# get PORT PATH: one HTTP GET of 127.0.0.1:PORT, the body read and dropped;
# prints the status code.
get() {
  local status
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n' "$2" >&3
  read -r _ status _ <&3
  cat <&3 >/dev/null
  exec 3<&-
  echo "$status"
}

bench_metrics() {
  local port port2 mport ci_pid off_pid n pair side want start lat rss_kb hwm_kb off_kb off_hwm_kb
  port=$(free_port)
  port2=$(free_port)
  mport=$(free_port)
  certbot_renew "$work/le3" 1
  certbot_renew "$work/le4" 1
  "$CERTINIT" --log-level warn run --cert "$work/le3/live/x/fullchain.pem" --key "$work/le3/live/x/privkey.pem" \
    --copy-to "$work/metrics-certs" --owner "$owner" --metrics-addr "127.0.0.1:$mport" \
    -- mosquitto -c "$(conf "$port" "$work/metrics-certs")" &
  ci_pid=$!
  pids+=("$ci_pid")
  "$CERTINIT" --log-level warn run --cert "$work/le4/live/x/fullchain.pem" --key "$work/le4/live/x/privkey.pem" \
    --copy-to "$work/plain-certs" --owner "$owner" -- mosquitto -c "$(conf "$port2" "$work/plain-certs")" &
  off_pid=$!
  pids+=("$off_pid")
  wait_up "$port"
  wait_up "$port2"
  # Both runs get the same renewals, one after the other. The renewals
  # cycle through the pairs made above; each differs from the one before
  # it, so each is a reload.
  for n in $(seq 2 $((METRIC_ROUNDS + 1))); do
    pair=$(((n - 1) % (ROUNDS + 1) + 1))
    want=$(<"cert$pair.pem")
    for side in "le3:$port" "le4:$port2"; do
      certbot_renew "$work/${side%%:*}" "$pair"
      start=${EPOCHREALTIME//[^0-9]/}
      lat=$(wait_cert "${side#*:}" "$want" "$start") ||
        { echo "bench/40-run.sh: certinit (${side%%:*}) did not reload renewal $((n - 1)) within 10 s" >&2; exit 1; }
    done
    [ "$(get "$mport" /metrics)" = 200 ] && [ "$(get "$mport" /readyz)" = 200 ] ||
      { echo "bench/40-run.sh: /metrics or /readyz did not answer 200 after renewal $((n - 1))" >&2; exit 1; }
    sleep "$round_gap"
  done
  rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$ci_pid/status")
  hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$ci_pid/status")
  off_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$off_pid/status")
  off_hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$off_pid/status")
  kill -TERM "$ci_pid" "$off_pid"
  wait "$ci_pid" "$off_pid" 2>/dev/null || true
  echo "| run --metrics-addr: RSS after $METRIC_ROUNDS reloads, /metrics and /readyz asked after each (peak VmHWM; target ≤ 20 MiB) | $(mib "$rss_kb") (peak $(mib "$hwm_kb")) | $(mib "$off_kb") (peak $(mib "$off_hwm_kb")) | the same run without --metrics-addr, the same renewals | $(ratio "$rss_kb" "$off_kb") |"
}

# === restart latency: a listener cafile change ==========================
# client_ca N: a client CA and a client certificate it issued, for round N.
client_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "cca$1.key" -out "cca$1.pem" \
    -subj "/CN=bench clients $1" -days 2 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "client$1.key" -out "client$1.csr" \
    -subj "/CN=client$1" 2>/dev/null
  openssl x509 -req -in "client$1.csr" -CA "cca$1.pem" -CAkey "cca$1.key" -CAcreateserial -out "client$1.pem" \
    -days 1 2>/dev/null
}

# client_conf PORT CERTDIR CAFILE: conf's listener, requiring a client
# certificate from CAFILE.
client_conf() {
  local c
  c=$(conf "$1" "$2")
  printf 'cafile %s\nrequire_certificate true\n' "$3" >> "$c"
  echo "$c"
}

# wait_pub PORT N START: ms from START (µs) until a client with round N's
# certificate publishes (mosquitto_pub exits non-zero while the broker
# refuses the certificate or is down); fails after 10 s.
wait_pub() {
  local now
  until mosquitto_pub -h 127.0.0.1 -p "$1" --cafile "$work/ca.pem" --cert "$work/client$2.pem" --key "$work/client$2.key" \
    -t bench -m x -q 1 2>/dev/null; do
    now=${EPOCHREALTIME//[^0-9]/}
    if ((now - $3 > 10000000)); then return 1; fi
    sleep 0.01
  done
  now=${EPOCHREALTIME//[^0-9]/}
  echo $(((now - $3) / 1000))
}

# new_clients_ca FILE N: round N's client CA renamed over FILE, as a tool
# that writes atomically does.
new_clients_ca() {
  cp "cca$2.pem" "$1.new"
  mv "$1.new" "$1"
}

# ci_restart N: certinit's round: a new client CA, then the ms until a
# client of it publishes.
ci_restart() {
  local start
  new_clients_ca "$work/clients-ci.pem" "$1"
  start=${EPOCHREALTIME//[^0-9]/}
  lat=$(wait_pub "$port" "$1" "$start") ||
    { echo "bench/40-run.sh: certinit did not restart the broker for client CA $1 within 10 s" >&2; return 1; }
}

# ref_restart N: the hook's round: a new client CA, then stop the broker,
# wait for it to exit and start it again.
ref_restart() {
  local start
  new_clients_ca "$work/clients-ref.pem" "$1"
  start=${EPOCHREALTIME//[^0-9]/}
  kill -TERM "$ref_pid"
  wait "$ref_pid" 2>/dev/null || true
  mosquitto -c "$refconf" &
  ref_pid=$!
  pids+=("$ref_pid")
  lat=$(wait_pub "$port2" "$1" "$start") ||
    { echo "bench/40-run.sh: the restarted broker did not accept client CA $1 within 10 s" >&2; return 1; }
}

bench_restart() {
  local port port2 ci_pid n lat refconf ci_times ref_times ci_med ref_med ci_max ref_max
  for n in $(seq 1 $((ROUNDS + 1))); do client_ca "$n"; done
  port=$(free_port)
  port2=$(free_port)
  certbot_renew "$work/le4" 1
  mkdir -p "$work/ref4-certs"
  cp "$work/le4/live/x/fullchain.pem" "$work/le4/live/x/privkey.pem" "$work/ref4-certs/"
  chown "$owner" "$work/ref4-certs/privkey.pem"
  cp cca1.pem "$work/clients-ci.pem"
  cp cca1.pem "$work/clients-ref.pem"
  "$CERTINIT" --log-level warn run --cert "$work/le4/live/x/fullchain.pem" --key "$work/le4/live/x/privkey.pem" \
    --copy-to "$work/ci4-certs" --owner "$owner" --restart-on "$work/clients-ci.pem" \
    -- mosquitto -c "$(client_conf "$port" "$work/ci4-certs" "$work/clients-ci.pem")" &
  ci_pid=$!
  pids+=("$ci_pid")
  refconf=$(client_conf "$port2" "$work/ref4-certs" "$work/clients-ref.pem")
  mosquitto -c "$refconf" &
  ref_pid=$!
  pids+=("$ref_pid")
  wait_pub "$port" 1 "${EPOCHREALTIME//[^0-9]/}" >/dev/null && wait_pub "$port2" 1 "${EPOCHREALTIME//[^0-9]/}" >/dev/null ||
    { echo "bench/40-run.sh: a broker with client certificates did not come up" >&2; exit 1; }
  interleave ci_restart ref_restart
  kill -TERM "$ci_pid" "$ref_pid"
  wait "$ci_pid" "$ref_pid" 2>/dev/null || true
  summarize
  echo "| run: restart after a listener cafile change (--restart-on, default 500 ms --debounce) until a client of the new CA publishes, median of $ROUNDS (worst), rounds interleaved | ${ci_med} ms (${ci_max}) | ${ref_med} ms (${ref_max}) | hook: kill -TERM + wait + start mosquitto | $(ratio "$ci_med" "$ref_med") |"
}

# === start-up until COMMAND runs ========================================
# COMMAND is `date +%s%N`: the time it prints minus the time the shell
# read its clock right before exec'ing certinit is what run costs before
# COMMAND runs: certinit's own exec and start, its preparation, starting
# COMMAND and COMMAND's exec (exit cost, e.g. the kernel tearing down
# inotify, is not part of it). See exec_us. The reference is the shell
# entrypoint run replaces, timed the same way. Interleaved, so both see the
# same load; every run starts from fresh copies.
# When this certinit's run has --trust/--rehash, each run installs a CA
# into a copy of the stock Debian store and rehashes a capath of 5 CAs,
# against an entrypoint doing cp + update-ca-certificates + openssl rehash
# + cp + exec (in a private mount namespace, timed inside it). Otherwise
# it is --cert/--key/--copy-to against cp + exec. The row says which.
# exec_us CMD [ARGS...]: µs from the shell's clock just before it execs
# CMD to the nanoseconds CMD's last line of output says (COMMAND is
# `date +%s%N`). The start is read with $EPOCHREALTIME (bash 5), not with
# $(date), whose exit and the shell's next fork would be charged to CMD.
exec_us() {
  local out t0 t1
  out=$(echo "${EPOCHREALTIME//[^0-9]/}"; exec "$@")
  t0=${out%%$'\n'*} t1=${out##*$'\n'}
  echo $((t1 / 1000 - t0))
}

bench_startup() {
  local help mode=pair runs=$STARTS every=1 live i ci_start=() sh_start=()
  help=$("$CERTINIT" run --help 2>&1)
  if grep -qE -- '^ +--trust ' <<<"$help" && grep -qE -- '^ +--rehash ' <<<"$help" &&
    grep -qE -- '^ +--trust-store ' <<<"$help" && grep -qE -- '^ +--root ' <<<"$help"; then
    mode=trust
    # update-ca-certificates takes seconds: it runs in every third round,
    # certinit in every one (a median of 30 is steadier on a shared VM).
    [ "${BENCH_QUICK:-0}" = 1 ] || every=3
  fi
  certbot_renew "$work/le3" 1
  live="$work/le3/live/x"
  [ "$mode" = pair ] || startup_trust_setup
  for i in $(seq 1 "$runs"); do
    rm -rf "$work/start-ci" "$work/start-sh"; mkdir -p "$work/start-sh"
    if [ "$mode" = pair ]; then
      ci_start+=("$(exec_us "$CERTINIT" --log-level warn run --cert "$live/fullchain.pem" --key "$live/privkey.pem" \
        --copy-to "$work/start-ci" -- date +%s%N)")
      sh_start+=("$(exec_us sh -c 'cp "$1" "$2" "$3"/ && exec date +%s%N' sh "$live/fullchain.pem" "$live/privkey.pem" "$work/start-sh")")
    else
      startup_trust_fresh
      ci_start+=("$(exec_us "$CERTINIT" --log-level warn run --trust "$work/ca.pem" --root "$work/st-a" --trust-store debian \
        --rehash "$work/capath-a" --cert "$live/fullchain.pem" --key "$live/privkey.pem" \
        --copy-to "$work/start-ci" -- date +%s%N)")
      if [ $(((i - 1) % every)) = 0 ]; then
        sh_start+=("$(startup_trust_reference "$live")")
        [ ${#ci_start[@]} -gt 1 ] || startup_trust_check
      else
        cp "$live/privkey.pem" "$work/start-sh/" # this round has no reference to check
      fi
    fi
    [ -s "$work/start-ci/privkey.pem" ] && [ -s "$work/start-sh/privkey.pem" ] ||
      { echo "bench/40-run.sh: a start-up did not copy the pair" >&2; exit 1; }
  done
  local ci_us sh_us what ref
  ci_us=$(printf '%s\n' "${ci_start[@]}" | median)
  sh_us=$(printf '%s\n' "${sh_start[@]}" | median)
  if [ "$mode" = pair ]; then
    what="--cert/--key/--copy-to"
    ref="sh entrypoint: cp + exec"
  else
    what="--trust (stock Debian store) + --rehash (5 CAs) + --cert/--key/--copy-to"
    ref="sh entrypoint: cp + update-ca-certificates + openssl rehash + cp + exec"
  fi
  local of="median of $runs"
  [ "${#sh_start[@]}" = "$runs" ] || of="median of $runs (reference: of ${#sh_start[@]})"
  echo "| run: start-up with $what until COMMAND runs, $of (budget < 100 ms) | $(ms "$ci_us") | $(ms "$sh_us") | $ref | $(ratio "$ci_us" "$sh_us") |"
}

# startup_trust_setup: a stock Debian store (the machine's Mozilla roots,
# made by update-ca-certificates) and a capath source of 5 CAs.
startup_trust_setup() {
  [ "$(id -u)" = 0 ] || { echo "bench/40-run.sh: the start-up reference needs root (unshare -m)" >&2; exit 1; }
  UPDATE=$(command -v update-ca-certificates || echo /usr/sbin/update-ca-certificates)
  local tmpl=$work/stock i
  mkdir -p "$tmpl/usr/share/ca-certificates/mozilla" "$tmpl/usr/local/share/ca-certificates" "$tmpl/etc/ssl/certs"
  cp -a /usr/share/ca-certificates/mozilla/. "$tmpl/usr/share/ca-certificates/mozilla/"
  (cd "$tmpl/usr/share/ca-certificates" && find mozilla -name '*.crt' | LC_ALL=C sort) >"$tmpl/etc/ca-certificates.conf"
  startup_us "$tmpl" "$UPDATE --fresh >/dev/null 2>&1" >/dev/null
  mkdir -p "$work/capath-src"
  for i in 1 2 3 4 5; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
      -out "$work/capath-src/bridge-ca-$i.pem" -subj "/CN=bench bridge CA $i" -days 2 2>/dev/null
  done
}

# startup_trust_fresh: fresh copies of the store and the capath for each side.
startup_trust_fresh() {
  rm -rf "$work/st-a" "$work/st-b" "$work/capath-a" "$work/capath-b"
  cp -a "$work/stock" "$work/st-a"; cp -a "$work/stock" "$work/st-b"
  cp -a "$work/capath-src" "$work/capath-a"; cp -a "$work/capath-src" "$work/capath-b"
}

# startup_us ROOT SCRIPT: runs SCRIPT (with sh) with ROOT's store
# bind-mounted over the system's; prints the µs from just before sh is
# exec'd to the nanoseconds SCRIPT's last command prints (or to its end if
# it prints none), as exec_us does.
startup_us() {
  unshare -m bash -c '
    set -e
    root=$1 script=$2
    mount --make-rprivate /
    mount --bind "$root/etc/ssl" /etc/ssl
    mount --bind "$root/usr/share/ca-certificates" /usr/share/ca-certificates
    mount --bind "$root/usr/local/share/ca-certificates" /usr/local/share/ca-certificates
    mount --bind "$root/etc/ca-certificates.conf" /etc/ca-certificates.conf
    out=$(echo "${EPOCHREALTIME//[^0-9]/}"; LC_ALL=C exec sh -c "$script")
    t0=${out%%$'"'"'\n'"'"'*} t1=${out##*$'"'"'\n'"'"'}
    [ "$t1" != "$t0" ] || t1=$((${EPOCHREALTIME//[^0-9]/} * 1000))
    echo $((t1 / 1000 - t0))' sh "$1" "$2"
}

# startup_trust_check: both sides did the work being timed (once).
startup_trust_check() {
  local side ca
  ca=$(sed -n 2p "$work/ca.pem")
  for side in a b; do
    grep -qF -- "$ca" "$work/st-$side/etc/ssl/certs/ca-certificates.crt" ||
      { echo "bench/40-run.sh: start-up ($side) did not add the CA to the bundle" >&2; exit 1; }
    [ "$(find "$work/capath-$side" -type l -name '*.0' | wc -l)" = 5 ] ||
      { echo "bench/40-run.sh: start-up ($side) did not rehash the capath" >&2; exit 1; }
  done
}

# startup_trust_reference LIVE: the entrypoint's start-up in µs.
startup_trust_reference() {
  startup_us "$work/st-b" "cp $work/ca.pem /usr/local/share/ca-certificates/bench-ca.crt &&
    $UPDATE --hooksdir /nonexistent >/dev/null 2>&1 && openssl rehash $work/capath-b &&
    cp $1/fullchain.pem $1/privkey.pem $work/start-sh/ && exec date +%s%N"
}

# bench_startup_capath: the broker's own case. --trust into a dir: capath
# (the store a broker's capath/bridge_capath reads) + --rehash of a capath
# of 5 CAs + --cert/--key/--copy-to, against an entrypoint doing cp +
# openssl rehash (both directories) + cp + exec. Needs run --trust.
bench_startup_capath() {
  "$CERTINIT" run --help 2>&1 | grep -qE -- '^ +--trust-store ' || return 0
  local runs=$STARTS live ci_start=() sh_start=() ci_us sh_us
  live="$work/le3/live/x"
  [ -d "$work/capath-src" ] || startup_trust_setup
  for _ in $(seq 1 "$runs"); do
    rm -rf "$work/start-ci" "$work/start-sh" "$work/ca-a" "$work/ca-b" "$work/capath-a" "$work/capath-b"
    mkdir -p "$work/start-sh" "$work/ca-b"
    cp -a "$work/capath-src" "$work/capath-a"; cp -a "$work/capath-src" "$work/capath-b"
    ci_start+=("$(exec_us "$CERTINIT" --log-level warn run --trust "$work/ca.pem" --trust-store "dir:$work/ca-a" \
      --rehash "$work/capath-a" --cert "$live/fullchain.pem" --key "$live/privkey.pem" \
      --copy-to "$work/start-ci" -- date +%s%N)")
    sh_start+=("$(exec_us sh -c 'cp "$1" "$2"/ca.pem && openssl rehash "$2" "$3" && cp "$4/fullchain.pem" "$4/privkey.pem" "$5"/ && exec date +%s%N' \
      sh "$work/ca.pem" "$work/ca-b" "$work/capath-b" "$live" "$work/start-sh")")
    [ -s "$work/start-ci/privkey.pem" ] && [ -s "$work/start-sh/privkey.pem" ] ||
      { echo "bench/40-run.sh: a capath start-up did not copy the pair" >&2; exit 1; }
    [ "$(find "$work/ca-a" -type l -name '*.0' | wc -l)" = 1 ] && [ "$(find "$work/capath-a" -type l -name '*.0' | wc -l)" = 5 ] ||
      { echo "bench/40-run.sh: the capath start-up did not install or rehash" >&2; exit 1; }
  done
  ci_us=$(printf '%s\n' "${ci_start[@]}" | median)
  sh_us=$(printf '%s\n' "${sh_start[@]}" | median)
  echo "| run: start-up with --trust (dir: capath) + --rehash (5 CAs) + --cert/--key/--copy-to until COMMAND runs, median of $runs (budget < 100 ms) | $(ms "$ci_us") | $(ms "$sh_us") | sh entrypoint: cp + openssl rehash + cp + exec | $(ratio "$ci_us" "$sh_us") |"
}

# BENCH_RUN_PARTS picks rows: any of reload metrics restart startup capath (default all).
for part in ${BENCH_RUN_PARTS:-reload metrics restart startup capath}; do
  case $part in
    reload) bench_reload ;;
    metrics) bench_metrics ;;
    restart) bench_restart ;;
    startup) bench_startup ;;
    capath) bench_startup_capath ;;
    *) echo "bench/40-run.sh: unknown part $part in BENCH_RUN_PARTS" >&2; exit 1 ;;
  esac
done
