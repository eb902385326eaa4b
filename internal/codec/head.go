package codec

// AppendHead appends to b the head of a CBOR data item of major type major
// (0 to 7: 0 an unsigned integer, 2 a byte string, 3 a text string, 4 an
// array, 5 a map, ...) with argument n, in its shortest form, as
// deterministic encoding requires: the argument in the head's first byte
// below 24, else in the fewest of 1, 2, 4 or 8 big-endian bytes after it.
// For a string, an array or a map n is its length; the content follows.
//
// The hand-written encoders of the WAL, the store's manifest, the
// transport's frames and the heap's checkpoint metadata build on it, so
// their output is what the library's deterministic mode gives.
func AppendHead(b []byte, major byte, n uint64) []byte {
	if n < 24 {
		return append(b, major<<5|byte(n))
	}
	return appendLongHead(b, major<<5, n)
}

// appendLongHead appends the head of initial byte m (the major type in its
// top three bits) and argument n, 24 or more.
func appendLongHead(b []byte, m byte, n uint64) []byte {
	switch {
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return append(b, m|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(b, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
		byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}
