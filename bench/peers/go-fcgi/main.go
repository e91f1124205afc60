// The benchmark routes for Go's net/http/fcgi: the same answers as bench/apps/gateway.mjs (sizes
// from bench/lib/routes.mjs). Built into the benchmark's temp prefix with `go build` when go is
// installed; one process, goroutines on every core (GOMAXPROCS defaults to the CPU count).
//
//	go build -o /tmp/x/go-fcgi main.go && /tmp/x/go-fcgi unix:/tmp/x/go-fcgi.sock
package main

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

const (
	mib        = 1 << 20
	chunkBytes = 64 << 10
)

var (
	hello  = []byte("Hello, world!\n")
	oneMiB = bytes.Repeat([]byte{'x'}, mib)
	chunk  = bytes.Repeat([]byte{'x'}, chunkBytes)
)

func route(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	switch r.URL.Path {
	case "/":
		h.Set("Content-Type", "text/plain")
		h.Set("Content-Length", strconv.Itoa(len(hello)))
		w.Write(hello)
	case "/1m":
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.Itoa(mib))
		w.Write(oneMiB)
	case "/echo":
		// The whole body first, as bench/apps/gateway.mjs does (nginx stops sending it after the head).
		body, _ := io.ReadAll(r.Body)
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	case "/upload":
		n, _ := io.CopyBuffer(io.Discard, r.Body, make([]byte, chunkBytes))
		body := fmt.Sprintf("%d\n", n)
		h.Set("Content-Type", "text/plain")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		io.WriteString(w, body)
	case "/down":
		left, err := strconv.Atoi(r.URL.Query().Get("bytes"))
		if err != nil || left < 0 {
			left = mib
		}
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.Itoa(left))
		for ; left > 0; left -= chunkBytes {
			w.Write(chunk[:min(left, chunkBytes)])
		}
	default:
		h.Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "not found\n")
	}
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func main() {
	if len(os.Args) != 2 || !strings.HasPrefix(os.Args[1], "unix:") {
		fmt.Fprintln(os.Stderr, "usage: go-fcgi unix:/path.sock")
		os.Exit(2)
	}
	path := strings.TrimPrefix(os.Args[1], "unix:")
	os.Remove(path)
	listener, err := net.Listen("unix", path)
	if err != nil {
		log.Fatal(err)
	}
	os.Chmod(path, 0o666) // nginx workers may run as another user (www-data)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		listener.Close() // also removes the socket file
		os.Exit(0)
	}()
	fmt.Fprintf(os.Stderr, "{\"msg\":\"ready\",\"pid\":%d}\n", os.Getpid())
	log.Fatal(fcgi.Serve(listener, http.HandlerFunc(route)))
}
