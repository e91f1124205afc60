#!/bin/sh
# sluice as a mod_fcgid application: the program Apache runs for every copy of the app
# ====================================================================================
#
# Put it in the site's document root with the .htaccess beside it, executable (chmod 755) and
# readable by the user Apache runs it as. mod_fcgid starts it with a listening Unix socket on fd 0:
# sluice finds it there (FCGI_LISTENSOCK_FILENO) and serves FastCGI on it, in one process, one
# request at a time. The app (here /srv/app/app.mjs) and the sluice installation must be readable
# by that user too. Add options to the line below: --drain-timeout, --max-body-bytes, or
# --config FILE. sluice logs to its stderr, which mod_fcgid sends to Apache's error log.
#
# Test harness: test/integration/fcgid.test.ts renders THIS file, rewriting only:
#   /usr/bin/sluice    -> this node and a staged copy of bin/sluice
#   /srv/app/app.mjs   -> the staged test app
exec /usr/bin/sluice serve /srv/app/app.mjs
