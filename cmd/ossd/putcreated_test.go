package main

import (
	"strings"
	"testing"
)

// "ossd put" to a heap the cluster does not have creates it, as its help
// says; a mistyped heap name so made a heap nobody asked for, and the
// command printed only the commit. It now says on stderr that it created
// the heap and how to remove it, and says nothing when the heap existed.
func TestPutSaysItCreatedTheHeap(t *testing.T) {
	_, flags := insecureAdmin(t)
	var out, notes strings.Builder
	if err := putTo(strings.NewReader(""), &out, &notes, append([]string{"settngs", "motd", `{"text": "hello"}`}, flags...)); err != nil {
		t.Fatalf("put to a new heap: %v", err)
	}
	if !strings.Contains(notes.String(), `heap "settngs" did not exist when put began, so put created it`) || !strings.Contains(notes.String(), "ossd heaps drop settngs") {
		t.Errorf("put that created heap settngs noted %q; want it to say it created the heap and how to drop it", notes.String())
	}
	if !strings.Contains(out.String(), `"index"`) {
		t.Errorf("put printed %q; want the commit as JSON", out.String())
	}
	out.Reset()
	notes.Reset()
	if err := putTo(strings.NewReader(""), &out, &notes, append([]string{"settngs", "motd", `{"text": "again"}`}, flags...)); err != nil {
		t.Fatalf("put to the existing heap: %v", err)
	}
	if notes.Len() != 0 {
		t.Errorf("put to an existing heap noted %q; want nothing", notes.String())
	}
}
