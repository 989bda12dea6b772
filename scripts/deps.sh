#!/usr/bin/env bash
# Installs what certinit's tests, demo and benchmarks run for real, on a fresh
# Debian 12 machine with Go: Debian packages through apt-get (when root), and
# the Go tools of go.mod's `tool` block (Pebble, pebble-challtestsrv) into .bin/.
# Not root and something missing: prints the apt-get line to run and fails.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian package -> a file it installs that we check for.
declare -A need=(
  [openssl]=/usr/bin/openssl
  [ca-certificates]=/usr/sbin/update-ca-certificates
  [mosquitto]=/usr/sbin/mosquitto
  [mosquitto-clients]=/usr/bin/mosquitto_pub
  [libmbedtls-dev]=/usr/include/mbedtls/x509_crt.h
  [gcc]=/usr/bin/gcc
  [g++]=/usr/bin/g++         # embed's output must link from C++ too
  [file]=/usr/bin/file
  [util-linux]=/usr/bin/unshare
  [procps]=/usr/bin/pgrep
  [hyperfine]=/usr/bin/hyperfine
  [certbot]=/usr/bin/certbot # reference ACME client for bench/40-acme.sh
  [xxd]=/usr/bin/xxd         # bench/60-probe.sh: embed against xxd -i
  [time]=/usr/bin/time       # GNU time: peak RSS of a child in the hostile-input tests
  [bind9]=/usr/sbin/named             # DNS-01 tests: the name server (named, tsig-keygen, ddns-confgen)
  [bind9-dnsutils]=/usr/bin/nsupdate  # DNS-01 tests: nsupdate in hook scripts, dig
  [bind9-utils]=/usr/bin/named-checkconf # DNS-01 tests: BIND's reader of key files and configurations
  [prometheus]=/usr/bin/prometheus # scrapes run --metrics-addr in the tests; its promtool lints the exposition
)
missing=()
for pkg in "${!need[@]}"; do
  [ -e "${need[$pkg]}" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "deps: missing ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
# The broker and Prometheus must not run as system services while tests
# start their own.
for svc in mosquitto prometheus; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done

# Go tools (Pebble ACME server and its DNS) at the versions pinned in go.mod.
if [ ! -x .bin/pebble ] || [ ! -x .bin/pebble-challtestsrv ] || [ go.mod -nt .bin/pebble ]; then
  echo "deps: building pebble and pebble-challtestsrv into .bin/"
  GOBIN="$PWD/.bin" go install tool
fi
