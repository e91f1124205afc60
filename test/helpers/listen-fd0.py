# Does what a spawning web server does (FastCGI spec §2.2, as spawn-fcgi and cgi-fcgi -start):
# binds and listens, puts the listening socket on fd 0 (FCGI_LISTENSOCK_FILENO), then execs.
#   python3 listen-fd0.py unix:/path/to.sock | tcp:HOST:PORT | pipe | devnull | connected  -- CMD ARGS...
# pipe, devnull and connected put something else on fd 0, for the cases that must not count.
import os
import socket
import sys

what, command = sys.argv[1], sys.argv[3:]
assert sys.argv[2] == "--"
if what.startswith("unix:"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(what[5:])
    os.chmod(what[5:], 0o666)
    s.listen(128)
elif what.startswith("tcp:"):
    host, port = what[4:].rsplit(":", 1)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host.strip("[]"), int(port)))
    s.listen(128)
elif what == "pipe":
    r, w = os.pipe()
    s = os.fdopen(r)
elif what == "devnull":
    s = open(os.devnull)
elif what == "connected":
    s, peer = socket.socketpair()
else:
    sys.exit("unknown fd 0: " + what)
os.dup2(s.fileno(), 0)
os.execvp(command[0], command)
