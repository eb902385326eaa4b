package scene

import (
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// An object with a name-based (version 5) ID that does not decode and is
// no cell of the world (another world's, another program's) is left as it
// is, and Repair enumerates the world's cells to find that out once, not
// at every Repair: each enumeration cost about 13 ms at 1,000 avatars, on
// every client, every five seconds, for as long as the object stayed.
func TestRepairEnumeratesCellsOnceForAForeignObject(t *testing.T) {
	g := newGarbageWorld(t)
	foreign := uuid.NewSHA1(uuid.New(), []byte("not a cell"))
	g.put(foreign, "garbage")
	for range 3 {
		if _, err := g.w.Repair(g.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := g.w.enumerations.Load(); n != 1 {
		t.Errorf("three Repairs enumerated the world's cells %d times, want once", n)
	}
	g.view(func(tx *oss.Tx) error {
		if ok, err := tx.Exists(foreign); err != nil || !ok {
			t.Errorf("the foreign object was removed: %v %v", ok, err)
		}
		return nil
	})
}
