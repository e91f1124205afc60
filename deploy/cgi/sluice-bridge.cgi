#!/bin/sh
# sluice bridge as a CGI program, for hosts that run CGI but cannot proxy FastCGI or SCGI
# ========================================================================================
#
# The web server runs this script once per request; `sluice bridge` forwards the request to a
# long-running sluice daemon (or any FastCGI/SCGI server) and streams the response back.
# Where to forward comes from the environment the web server sets (Apache: SetEnv, see
# deploy/apache/sluice-bridge-cgi.conf):
#   SLUICE_CONNECT   unix:/run/sluice/fastcgi.sock, 127.0.0.1:9000, ...
#   SLUICE_PROTOCOL  fastcgi (default) or scgi
# or give them here as flags: exec /usr/bin/sluice bridge --connect unix:/run/sluice/fastcgi.sock
#
# Install: copy to /usr/local/lib/sluice/sluice-bridge.cgi, chmod 755. Adjust /usr/bin/sluice to
# where npm put the sluice command (`command -v sluice`).
# Do not add "$@": a CGI host appends the words of a query without "=" as arguments (RFC 3875
# §4.4), and the client chooses those.
#
# Test harness: test/helpers/frontends.ts runs THIS file as shipped, rewriting only:
#   /usr/bin/sluice  -> <node> <prefix>/sluice/bin/sluice (a world-readable copy of the checkout's)
exec /usr/bin/sluice bridge
