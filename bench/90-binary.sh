#!/usr/bin/env bash
# Binary size: `make build`'s bin/certinit (CGO_ENABLED=0, -trimpath,
# -ldflags '-s -w'), which must be statically linked (`file` says so), since
# it is copied alone into scratch, distroless and Alpine images. The
# reference is the smallest piece of the pile it replaces that such an image
# would need: the openssl command and the shared libraries it loads (ldd),
# without which neither `openssl rehash` nor c_rehash runs.
# Needs: $CERTINIT (default bin/certinit), file, ldd, openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
CERTINIT=${CERTINIT:-$PWD/bin/certinit}
[ -x "$CERTINIT" ] || { echo "bench/90-binary.sh: $CERTINIT missing (make build)" >&2; exit 1; }
kind=$(file -b "$CERTINIT")
case $kind in
*"statically linked"*) ;;
*) echo "bench/90-binary.sh: $CERTINIT is not statically linked: $kind" >&2; exit 1 ;;
esac
stripped=stripped
case $kind in *"not stripped"*) stripped="not stripped" ;; esac

size() { stat -L -c %s "$@" | awk '{s += $1} END {print s}'; }
openssl=$(command -v openssl)
libs=$(ldd "$openssl" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u)
ci=$(size "$CERTINIT")
ref=$(size "$openssl" $libs)
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "| static binary size (make build; file: statically linked, $stripped) | $(mib "$ci") | $(mib "$ref") | openssl $(openssl version | cut -d' ' -f2) command + the $(wc -w <<<"$libs") shared libraries it loads (ldd) | $(awk -v a="$ci" -v b="$ref" 'BEGIN { printf "%.2f", a / b }') |"
