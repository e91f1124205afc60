# The benchmark routes for uWSGI's SCGI mode (python3 plugin): the same answers as
# bench/apps/gateway.mjs (sizes from bench/lib/routes.mjs), as a plain WSGI app (PEP 3333).
#
#   uwsgi --plugin python3 --scgi-socket /tmp/x/uwsgi.sock --processes 4 --master --wsgi-file app.py
from urllib.parse import parse_qs

MIB = 1 << 20
CHUNK_BYTES = 64 << 10
HELLO = b"Hello, world!\n"
ONE_MIB = b"x" * MIB
CHUNK = b"x" * CHUNK_BYTES
TEXT = ("Content-Type", "text/plain")
BINARY = ("Content-Type", "application/octet-stream")


def application(environ, start_response):
    # nginx's scgi_params sends no PATH_INFO: route on the path of REQUEST_URI.
    path = environ.get("REQUEST_URI", "/").split("?", 1)[0]
    if path == "/":
        start_response("200 OK", [TEXT, ("Content-Length", str(len(HELLO)))])
        return [HELLO]
    if path == "/1m":
        start_response("200 OK", [BINARY, ("Content-Length", str(MIB))])
        return [ONE_MIB]
    if path == "/echo":
        # The whole body first, as bench/apps/gateway.mjs does (nginx stops sending it after the head).
        body = b"".join(read_chunks(environ["wsgi.input"]))
        start_response("200 OK", [BINARY, ("Content-Length", str(len(body)))])
        return [body]
    if path == "/upload":
        count = sum(len(chunk) for chunk in read_chunks(environ["wsgi.input"]))
        body = b"%d\n" % count
        start_response("200 OK", [TEXT, ("Content-Length", str(len(body)))])
        return [body]
    if path == "/down":
        left = int(parse_qs(environ.get("QUERY_STRING", "")).get("bytes", [MIB])[0])
        start_response("200 OK", [BINARY, ("Content-Length", str(left))])
        return down(left)
    start_response("404 Not Found", [TEXT])
    return [b"not found\n"]


def read_chunks(stream):
    while True:
        chunk = stream.read(CHUNK_BYTES)
        if not chunk:
            return
        yield chunk


def down(left):
    while left > 0:
        yield CHUNK[: min(left, CHUNK_BYTES)]
        left -= CHUNK_BYTES
