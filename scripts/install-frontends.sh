#!/usr/bin/env bash
# Installs the real front ends the interop tests start themselves (Debian/Ubuntu), and only those missing.
set -euo pipefail

packages=(nginx apache2 lighttpd haproxy libfcgi-bin wrk systemd iproute2)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packages start their own services on install; the tests want the ports to themselves and
  # start private instances from the configs under test/ instead.
  for s in nginx apache2 lighttpd haproxy; do
    "${sudo[@]}" systemctl stop "$s" 2>/dev/null || "${sudo[@]}" service "$s" stop 2>/dev/null || true
  done
fi
echo "front ends ready: ${packages[*]}"
