package main

import (
	"strings"
	"testing"
)

// put --http-max-body 9223372036854775807, the largest int64, read no
// byte of stdin: the limit and one overflowed to a negative count, and
// put said the value was not JSON. It reads the value as any other.
func TestPutTakesTheLargestMaxBody(t *testing.T) {
	_, flags := insecureAdmin(t)
	var out, notes strings.Builder
	err := putTo(strings.NewReader(`{"a": 1}`+"\n"), &out, &notes, append([]string{"h", "r", "-", "--http-max-body", "9223372036854775807"}, flags...))
	if err != nil {
		t.Fatalf("put --http-max-body 9223372036854775807: %v", err)
	}
	if !strings.Contains(out.String(), `"index"`) {
		t.Errorf("put printed %q; want the commit", out.String())
	}
}
