#!/usr/bin/env bash
# certinit run: reload latency, memory while watching, start-up cost.
# Needs $CERTINIT (scripts/bench.sh sets it), openssl, mosquitto.
#
# Reload latency: from the moment a certbot-style renewal is in place
# (archive/ files written, live/ links swapped one by one) until openssl
# s_client sees the new serial. certinit runs with its defaults (500 ms
# debounce) and copies to a directory owned by user mosquitto; the
# reference is what a certbot deploy hook does by hand: cp, chown,
# kill -HUP, with no debounce and no validation. Median of 10 renewals.
# Memory: certinit's peak RSS (VmHWM) after those renewals.
# Start-up: time until COMMAND runs under `certinit run --trust --rehash
# --cert --key --copy-to` against the shell entrypoint it replaces
# (`cp`, `openssl rehash`, `exec`).
set -euo pipefail
: "${CERTINIT:?set CERTINIT to the certinit binary}"
ROUNDS=10
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
serial() { openssl x509 -noout -serial -in "$1" | cut -d= -f2; }

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

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# served PORT: serial the broker presents now.
served() {
  openssl s_client -connect "127.0.0.1:$1" -CAfile ca.pem -verify_return_error </dev/null 2>/dev/null \
    | openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}

# wait_serial PORT SERIAL START: ms from START until SERIAL is served
# (gives up after 10 s).
wait_serial() {
  while [ "$(served "$1")" != "$2" ]; do
    if [ $(( $(now_ms) - $3 )) -gt 10000 ]; then echo 10000; return; fi
    sleep 0.01
  done
  echo $(( $(now_ms) - $3 ))
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }

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

# --- certinit run -------------------------------------------------------
port=$(free_port)
certbot_renew "$work/le" 1
"$CERTINIT" --log-level warn run --cert "$work/le/live/x/fullchain.pem" --key "$work/le/live/x/privkey.pem" \
  --copy-to "$work/ci-certs" --owner "$owner" -- mosquitto -c "$(conf "$port" "$work/ci-certs")" &
ci_pid=$!
pids+=("$ci_pid")
wait_up "$port"
ci_times=()
for n in $(seq 2 $((ROUNDS + 1))); do
  want=$(serial "cert$n.pem")
  certbot_renew "$work/le" "$n"
  ci_times+=("$(wait_serial "$port" "$want" "$(now_ms)")")
done
rss_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$ci_pid/status")
kill -TERM "$ci_pid"; wait "$ci_pid" || true

# --- reference: certbot deploy hook by hand (cp, chown, kill -HUP) ------
port2=$(free_port)
certbot_renew "$work/le2" 1
mkdir -p "$work/ref-certs"
deploy_hook() { # what certbot's --deploy-hook script does for Mosquitto
  cp "$work/le2/live/x/fullchain.pem" "$work/le2/live/x/privkey.pem" "$work/ref-certs/"
  chown "$owner" "$work/ref-certs/privkey.pem"
  chmod 600 "$work/ref-certs/privkey.pem"
  [ -z "${1:-}" ] || kill -HUP "$1"
}
deploy_hook
mosquitto -c "$(conf "$port2" "$work/ref-certs")" &
ref_pid=$!
pids+=("$ref_pid")
wait_up "$port2"
ref_times=()
for n in $(seq 2 $((ROUNDS + 1))); do
  want=$(serial "cert$n.pem")
  certbot_renew "$work/le2" "$n"
  start=$(now_ms)
  deploy_hook "$ref_pid"
  ref_times+=("$(wait_serial "$port2" "$want" "$start")")
done
kill -TERM "$ref_pid"; wait "$ref_pid" 2>/dev/null || true

ci_med=$(printf '%s\n' "${ci_times[@]}" | median)
ref_med=$(printf '%s\n' "${ref_times[@]}" | median)
ratio=$(awk -v a="$ci_med" -v b="$ref_med" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "—" }')
echo "| run: reload latency after a certbot renewal, median of $ROUNDS (target ≤ 1000 ms) | ${ci_med} ms | ${ref_med} ms | deploy hook: cp + chown + kill -HUP | ${ratio} |"
echo "| run: peak RSS while supervising and watching (target ≤ 20 MiB) | $(awk -v k="$rss_kb" 'BEGIN { printf "%.1f MiB", k / 1024 }') | — | — | — |"

# --- start-up cost before COMMAND ---------------------------------------
# COMMAND is `date +%s%N`: the time it prints minus the time taken just
# before starting certinit is what run costs before COMMAND runs (exit
# cost, e.g. the kernel tearing down inotify, is not part of it). run
# installs a --trust CA into a capath (--trust-store dir:), rehashes a
# --rehash directory of 3 peer CAs, validates the pair (chain verified to
# the trust) and copies it. The reference is the shell entrypoint it
# replaces: cp the CA, openssl rehash both directories, cp the pair, exec.
# Interleaved, so both see the same load; every run starts from scratch.
certbot_renew "$work/le3" 1
live="$work/le3/live/x"
mkdir -p "$work/peers"
for n in 1 2 3; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -out "$work/peers/peer$n.pem" -subj "/CN=bench-peer-$n" -days 2 2>/dev/null
done
fresh() { # fresh ci|sh: remove what that side's previous start-up made
  rm -rf "$work/start-$1" "$work/capath-$1"
  find "$work/peers" -type l -delete
  mkdir -p "$work/start-sh" "$work/capath-sh"
}
ci_start=() sh_start=()
for _ in $(seq 1 30); do
  fresh ci
  t0=$(date +%s%N)
  t1=$("$CERTINIT" --log-level warn run --trust "$work/ca.pem" --trust-store "dir:$work/capath-ci" \
    --rehash "$work/peers" --cert "$live/fullchain.pem" --key "$live/privkey.pem" \
    --copy-to "$work/start-ci" -- date +%s%N)
  ci_start+=("$(( (t1 - t0) / 1000 ))")
  fresh sh
  t0=$(date +%s%N)
  t1=$(sh -c 'cp "$1" "$2"/ && openssl rehash "$2" && openssl rehash "$3" && cp "$4" "$5" "$6"/ && exec date +%s%N' \
    sh "$work/ca.pem" "$work/capath-sh" "$work/peers" "$live/fullchain.pem" "$live/privkey.pem" "$work/start-sh")
  sh_start+=("$(( (t1 - t0) / 1000 ))")
done
[ -e "$work/capath-ci/$(openssl x509 -noout -subject_hash -in "$work/ca.pem").0" ] \
  || { echo "bench/40-run.sh: certinit run did not hash the capath" >&2; exit 1; }
ci_us=$(printf '%s\n' "${ci_start[@]}" | median)
sh_us=$(printf '%s\n' "${sh_start[@]}" | median)
echo "| run: start-up with --trust, --rehash (3 CAs) and --cert/--key/--copy-to until COMMAND runs, median of 30 (target ≤ 50 ms) | $(awk -v u="$ci_us" 'BEGIN { printf "%.1f ms", u / 1000 }') | $(awk -v u="$sh_us" 'BEGIN { printf "%.1f ms", u / 1000 }') | sh entrypoint: cp + openssl rehash ×2 + cp + exec | $(awk -v a="$ci_us" -v b="$sh_us" 'BEGIN { printf "%.1f", a / b }') |"
