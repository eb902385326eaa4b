package oss

import (
	"bytes"
	"testing"
)

// BenchmarkEncodeStoreMeta encodes a checkpoint's metadata for a replica
// with an empty state, so that the heads, not the state, are most of it.
func BenchmarkEncodeStoreMeta(b *testing.B) {
	r, err := replicaAt(0, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	c := r.CaptureSnapshotMeta()
	sm := bytes.Repeat([]byte{8}, 300)
	b.ReportAllocs()
	for b.Loop() {
		encodeStoreMeta(sm, c, 3)
	}
}
