package consistency

// A checkpoint encodes the replica's metadata (SnapshotMetaLater): the
// roots and up to DefaultDedupWindow decisions of the deduplication
// memory, every CheckpointEvery entries. By reflection (encMode, through
// a []snapDecision built for it) that was about 7% of the peer
// benchmark's CPU and a slice of up to 20 MB a checkpoint. So, as the
// commit record has (recordcodec.go), the metadata has an encoder of its
// own that writes, byte for byte, what encMode writes for metaOf's
// snapshotData, straight from the state and the decisions, into one
// buffer sized up front. Decoding is the library's, as before: the bytes
// are the same (TestMetaCodecMatchesLibrary, FuzzMetaCodec).
//
// The encoding: a map of keys 1 to 5 in order; Index and Shape as
// unsigned integers; Objects null (the metadata carries none); Roots an
// array of [Name, ID, Version], or null when there are none (a nil
// slice); Seen an array, possibly empty, of [TxID, Index, Outcome,
// ConflictID, ConflictRoot, ConflictScan].

// metaSize is the length of appendMeta's encoding of st and dec.
func metaSize(st *State, dec *decisionLog) int {
	n := 1 + 1 + headLen(st.index) + 1 + headLen(st.shape) + 2 + 1
	if st.roots.Len() == 0 {
		n++
	} else {
		n += headLen(uint64(st.roots.Len()))
		st.roots.Scan(func(it rootItem) bool {
			n += 1 + textLen(it.name) + idLen + headLen(it.root.Version)
			return true
		})
	}
	n += 1 + headLen(uint64(dec.len()))
	for k := range dec.blocks {
		seg := dec.segment(k)
		for j := range seg {
			x := &seg[j]
			n += 1 + idLen + headLen(x.index) + headLen(uint64(x.outcome)) + idLen + textLen(dec.rootOf(x)) + 1
		}
	}
	return n
}

// appendMeta appends to b what encMode writes for metaOf(st, dec).
func appendMeta(b []byte, st *State, dec *decisionLog) []byte {
	b = append(b, cborMap<<5|5)
	b = appendHead(append(b, 1), cborUint, st.index)
	b = appendHead(append(b, 2), cborUint, st.shape)
	b = append(b, 3, cborNull, 4)
	if st.roots.Len() == 0 {
		b = append(b, cborNull)
	} else {
		b = appendHead(b, cborArray, uint64(st.roots.Len()))
		st.roots.Scan(func(it rootItem) bool {
			b = appendText(append(b, cborArray<<5|3), it.name)
			b = appendHead(appendID(b, it.root.ID), cborUint, it.root.Version)
			return true
		})
	}
	b = appendHead(append(b, 5), cborArray, uint64(dec.len()))
	for k := range dec.blocks {
		seg := dec.segment(k)
		for j := range seg {
			x := &seg[j]
			b = appendID(append(b, cborArray<<5|6), x.txID)
			b = appendHead(appendHead(b, cborUint, x.index), cborUint, uint64(x.outcome))
			b = appendText(appendID(b, x.conflictID), dec.rootOf(x))
			b = appendBool(b, x.scan)
		}
	}
	return b
}

// encodeMeta is appendMeta into a buffer of its exact size.
func encodeMeta(st *State, dec *decisionLog) []byte {
	return appendMeta(make([]byte, 0, metaSize(st, dec)), st, dec)
}
