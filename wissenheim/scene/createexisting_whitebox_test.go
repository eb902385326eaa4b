package scene

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// Create opens a world that exists, whatever its spec: the spec is
// ignored then, and so not checked. Create checked it first, so a world
// written with a prop's and a door's name of 1,025 bytes (as Create wrote
// them before their bound; Open takes it) was refused at every start of
// the application, which calls Create with its spec. A spec it would
// write is still refused.
func TestCreateOpensAnExistingWorldItsSpecWouldNotPass(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	h, err := n.CreateHeap(ctx, "w", nil)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 1025)
	spec := DemoSpec(4)
	spec.Name, spec.Lease = "old", DefaultLease
	spec.Rooms[0].Props[0].Name = long
	spec.Rooms[0].Doors = append(spec.Rooms[0].Doors, DoorSpec{Name: long, Rect: R(1, 1, 2, 2)})
	if err := h.Update(ctx, func(tx *oss.Tx) error { return writeWorld(tx, spec) }); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, h, "old"); err != nil {
		t.Fatalf("Open of the world as it was written: %v", err)
	}
	w, err := Create(ctx, h, spec)
	if err != nil {
		t.Fatalf("Create of the world that exists: %v, want it opened", err)
	}
	if w.Name() != "old" {
		t.Fatalf("Create opened %q, want old", w.Name())
	}
	spec.Name = "new"
	if _, err := Create(ctx, h, spec); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Create of a new world of that spec: %v, want ErrInvalid", err)
	}
	if _, err := Open(ctx, h, "new"); !errors.Is(err, ErrNoWorld) {
		t.Fatalf("Open after the refused Create: %v, want ErrNoWorld", err)
	}
}
