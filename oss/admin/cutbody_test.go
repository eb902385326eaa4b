package admin_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A write whose answer is cut after its status line may have been
// carried out (a 200 says it was): the client says its outcome is
// unknown, never an error that says nothing of it (the body's read
// error, "unexpected EOF"), which a caller takes for a failure. An
// answer of 409 cut the same way still says the write conflicted: its
// status says what happened.
func TestClientWriteAnswerCutInItsBodyIsUnknown(t *testing.T) {
	status := make(chan string, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	defer func() { ln.Close(); <-done }()
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
				req.Body.Close()
			}
			// The answer's head and a part of its body, then the cut.
			head := <-status
			if !strings.Contains(head, "Connection: close") {
				head += "\r\nContent-Length: 100"
			}
			c.Write([]byte("HTTP/1.1 " + head + "\r\nContent-Type: application/json\r\n\r\n{\"id\":"))
			c.Close()
		}
	}()
	cl, err := admin.NewClient(ln.Addr().String(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	status <- "200 OK"
	var out admin.Committed
	err = cl.Do(ctx, "PUT", "/v1/heaps/h/roots/r", map[string]int{"v": 1}, &out)
	if !errors.Is(err, oss.ErrCommitUnknown) {
		t.Fatalf("a PUT answered 200 and cut in the body: %v, want ErrCommitUnknown", err)
	}
	// An answer whose end is the connection's (no length given) reads
	// to its end without an error; cut, its JSON does not decode.
	status <- "200 OK\r\nConnection: close"
	err = cl.Do(ctx, "PUT", "/v1/heaps/h/roots/r", map[string]int{"v": 1}, &out)
	if !errors.Is(err, oss.ErrCommitUnknown) {
		t.Fatalf("a PUT answered 200 with a body cut where the connection ends it: %v, want ErrCommitUnknown", err)
	}
	status <- "409 Conflict"
	err = cl.Do(ctx, "POST", "/v1/heaps/h/tx", map[string]int{"v": 1}, nil)
	if !errors.Is(err, oss.ErrConflict) || errors.Is(err, oss.ErrCommitUnknown) {
		t.Fatalf("a POST answered 409 and cut in the body: %v, want ErrConflict", err)
	}
}
