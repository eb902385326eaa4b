package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/osstest"
)

// "ossd put" to a node whose disk refuses the write, nothing committed,
// says so and what to do, with an error matching oss.ErrDisk: the node
// answered 500 with the log's file and the disk's error, and the CLI
// printed that alone, neither that nothing was committed nor a remedy.
func TestPutOnARefusingDiskSaysNothingWasCommitted(t *testing.T) {
	disk := osstest.NewDiskStall()
	n, err := oss.Start(context.Background(), &oss.Config{Name: "full", DataDir: "/data", FS: disk.FS(), TickInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	flags := []string{"--http", srv.Addr(), "--http-insecure"}
	var out bytes.Buffer
	if err := putFrom(strings.NewReader(""), &out, append([]string{"h", "r", "1"}, flags...)); err != nil {
		t.Fatal(err)
	}
	disk.Full(".wal")
	defer disk.Mend()
	for range 50 {
		err = putFrom(strings.NewReader(""), &out, append([]string{"h", "r", "2"}, flags...))
		if err == nil {
			t.Fatal("a put succeeded while the node's disk refuses its log's writes")
		}
		if !errors.Is(err, oss.ErrCommitUnknown) {
			break // a record proposed before the refusal may commit yet
		}
	}
	msg := err.Error()
	if !errors.Is(err, oss.ErrDisk) || !strings.Contains(msg, "\nnothing was committed: the node's disk refused the write") ||
		!strings.Contains(msg, "free space") || strings.Contains(msg, "outcome is unknown") {
		t.Fatalf("ossd put on a full disk said:\n%s\nwant ErrDisk, that nothing was committed and the remedy", msg)
	}
}
