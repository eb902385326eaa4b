package gossip

import (
	"bytes"
	"compress/lzw"
	"encoding/binary"
	"hash/crc32"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// Message types of memberlist's wire format (memberlist's net.go), as far
// as the filter reads them.
const (
	msgPing         = 0
	msgIndirectPing = 1
	msgAck          = 2
	msgSuspect      = 3
	msgAlive        = 4
	msgDead         = 5
	msgCompound     = 7
	msgUser         = 8
	msgCompress     = 9
	msgNack         = 11
	msgHasCRC       = 12
)

// maxInflated caps what a compressed gossip packet may inflate to: a
// datagram carries at most transport.MaxDatagram bytes, and LZW at best
// shrinks a run to a few percent.
const maxInflated = 64 << 10

// subject is what the filter reads of an alive, suspect or dead message:
// the member it is about.
type subject struct {
	Node string
}

// compressed is memberlist's compress message.
type compressed struct {
	Algo int
	Buf  []byte
}

// filter reads the gossip of one peer not trusted with the state of
// others.
type filter struct {
	from string
	// userOK, if not nil, says which of the peer's user messages pass.
	userOK func(from string, msg []byte) bool
}

// ownOnly returns the part of a gossip packet from the peer named from
// that a member not trusted with the state of others may send: probes
// (ping, indirect ping) and their answers (ack, nack), user messages
// userOK passes, and alive, suspect and dead messages about itself (its
// joining, refuting and leaving). A compound packet keeps its admitted
// parts; a compressed one is inflated, and a checksummed one checked and
// unwrapped, before its contents are filtered. It returns nil if nothing
// is admitted, and how many messages it left out.
func ownOnly(from string, userOK func(string, []byte) bool, buf []byte) ([]byte, int) {
	return filter{from, userOK}.msg(buf, 0)
}

func (f filter) msg(buf []byte, depth int) ([]byte, int) {
	if len(buf) == 0 || depth > 4 {
		return nil, 1
	}
	body := buf[1:]
	switch buf[0] {
	case msgPing, msgIndirectPing, msgAck, msgNack:
		return buf, 0
	case msgUser:
		if f.userOK != nil && !f.userOK(f.from, body) {
			return nil, 1
		}
		return buf, 0
	case msgAlive, msgSuspect, msgDead:
		var s subject
		if codec.NewDecoderBytes(body, &codec.MsgpackHandle{}).Decode(&s) != nil || s.Node != f.from {
			return nil, 1
		}
		return buf, 0
	case msgHasCRC:
		if len(body) < 4 || crc32.ChecksumIEEE(body[4:]) != binary.BigEndian.Uint32(body[:4]) {
			return nil, 1
		}
		return f.msg(body[4:], depth+1)
	case msgCompress:
		var c compressed
		if codec.NewDecoderBytes(body, &codec.MsgpackHandle{}).Decode(&c) != nil || c.Algo != 0 {
			return nil, 1
		}
		r := lzw.NewReader(bytes.NewReader(c.Buf), lzw.LSB, 8)
		defer r.Close()
		var b bytes.Buffer
		if n, err := io.CopyN(&b, r, maxInflated+1); err != nil && err != io.EOF || n > maxInflated {
			return nil, 1
		}
		return f.msg(b.Bytes(), depth+1)
	case msgCompound:
		return f.compound(body, depth)
	}
	return nil, 1 // push/pull, encrypted, labelled or unknown: never a packet of ours
}

// compound filters the parts of a compound message's body and encodes
// the admitted ones again.
func (f filter) compound(body []byte, depth int) ([]byte, int) {
	if len(body) < 1 || len(body) < 1+2*int(body[0]) {
		return nil, 1
	}
	n := int(body[0])
	rest := body[1+2*n:]
	var kept [][]byte
	dropped := 0
	for i := range n {
		l := int(binary.BigEndian.Uint16(body[1+2*i:]))
		if len(rest) < l {
			return nil, dropped + n - i
		}
		part, d := f.msg(rest[:l], depth+1)
		rest = rest[l:]
		dropped += d
		if part != nil && len(part) <= 0xffff {
			kept = append(kept, part)
		}
	}
	switch len(kept) {
	case 0:
		return nil, dropped
	case 1:
		return kept[0], dropped
	}
	out := []byte{msgCompound, byte(len(kept))}
	for _, p := range kept {
		out = binary.BigEndian.AppendUint16(out, uint16(len(p)))
	}
	for _, p := range kept {
		out = append(out, p...)
	}
	return out, dropped
}
