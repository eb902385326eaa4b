package admin_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss/admin"
)

// A restore of a stream that no node of the list took says what each
// node answered, and never that it was "not sent to the next node" when
// there was none: through a list of a node down and a node starting, the
// error named only the starting one, with that clause, and the node down
// was not mentioned.
func TestRestoreNoNodeTookSaysEachNode(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	starting, err := admin.Starting("n0", &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { starting.Close(ctx) })
	down := closedAddr(t)
	c, err := admin.NewClient(down+","+starting.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	_, err = c.Restore(ctx, "h", onlyReader{bytes.NewReader(make([]byte, 1<<20))}, 0)
	if err == nil {
		t.Fatal("a restore through a node down and a node starting succeeded")
	}
	msg := err.Error()
	if strings.Contains(msg, "not sent to the next node") {
		t.Errorf("the last node's refusal says the request was not sent on, when there was no node left: %s", msg)
	}
	if !strings.Contains(msg, down) || !strings.Contains(msg, "starting") {
		t.Errorf("the error does not say what both nodes answered (%s down, %s starting): %s", down, starting.Addr(), msg)
	}
	if !admin.TookNothing(err) {
		t.Errorf("no node took the restore, and TookNothing says otherwise: %v", err)
	}
}
