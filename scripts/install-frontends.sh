#!/usr/bin/env bash
# Installs the real front ends and servers the interop tests start themselves (Debian/Ubuntu), and
# only those missing: apache2 also serves as the CGI host of the bridge tests, php-fpm as a FastCGI
# server for the client tests, python3 as a stand-in for systemd's notification socket; spawn-fcgi and
# libfcgi-bin's cgi-fcgi -start start sluice with its listening socket on fd 0, as do Apache's
# mod_fcgid and h2o's fastcgi.spawn. caddy is Debian's 2.6, the version that streams chunked uploads
# with CONTENT_LENGTH=-1; h2o is Debian's 2.2.
set -euo pipefail

packages=(nginx apache2 libapache2-mod-fcgid lighttpd haproxy caddy h2o libfcgi-bin spawn-fcgi wrk php-fpm systemd iproute2 python3)
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
  # start private instances from the configs under test/ instead (caddy's takes port 80 and 2019,
  # h2o's port 80).
  for s in nginx apache2 lighttpd haproxy caddy h2o $(cd /etc/init.d 2>/dev/null && ls -d php*-fpm 2>/dev/null); do
    "${sudo[@]}" systemctl stop "$s" 2>/dev/null || "${sudo[@]}" service "$s" stop 2>/dev/null || true
  done
fi
echo "front ends ready: ${packages[*]}"
