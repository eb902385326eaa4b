package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// xscreen is the screen of an X server the test starts (Xvfb, under
// xvfb-run) with -fbdir: Xvfb keeps its framebuffer in a file there, an
// XWD image that it maps into memory, so reading the file reads the
// pixels the server shows, whatever drew them.
type xscreen struct {
	dir  string
	w, h int
}

func newXScreen(t *testing.T, w, h int) *xscreen {
	t.Helper()
	return &xscreen{dir: t.TempDir(), w: w, h: h}
}

// serverArgs are Xvfb's arguments for the screen (xvfb-run -s).
func (s *xscreen) serverArgs() string {
	return fmt.Sprintf("-screen 0 %dx%dx24 -fbdir %s", s.w, s.h, s.dir)
}

// read returns the screen's pixels as they are now.
func (s *xscreen) read() (*image.RGBA, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "Xvfb_screen0"))
	if err != nil {
		return nil, err
	}
	return decodeXWD(b)
}

// decodeXWD decodes an XWD image of a TrueColor visual, 24 or 32 bits a
// pixel (X11's XWDFile.h): a header of CARD32 fields, most significant
// byte first, the window's name, the colour map (12 bytes an entry),
// then the pixels, bytes_per_line a row, in the header's byte order.
func decodeXWD(b []byte) (*image.RGBA, error) {
	const (
		headerSize = iota
		fileVersion
		pixmapFormat
		pixmapDepth
		pixmapWidth
		pixmapHeight
		xOffset
		byteOrder
		bitmapUnit
		bitmapBitOrder
		bitmapPad
		bitsPerPixel
		bytesPerLine
		visualClass
		redMask
		greenMask
		blueMask
		bitsPerRGB
		colormapEntries
		ncolors
		fields
	)
	if len(b) < 4*fields {
		return nil, errors.New("xwd: short header")
	}
	var order binary.ByteOrder = binary.BigEndian
	if order.Uint32(b[4:]) != 7 {
		order = binary.LittleEndian // written in the host's order
		if order.Uint32(b[4:]) != 7 {
			return nil, fmt.Errorf("xwd: file version %d, want 7", binary.BigEndian.Uint32(b[4:]))
		}
	}
	var h [fields]int
	for i := range h {
		h[i] = int(order.Uint32(b[4*i:]))
	}
	const zPixmap, trueColor = 2, 4
	if h[pixmapFormat] != zPixmap || h[visualClass] != trueColor || (h[bitsPerPixel] != 32 && h[bitsPerPixel] != 24) {
		return nil, fmt.Errorf("xwd: format %d, visual class %d, %d bits a pixel: want a ZPixmap of a TrueColor visual, 24 or 32 bits a pixel",
			h[pixmapFormat], h[visualClass], h[bitsPerPixel])
	}
	w, ht, bpl, bpp := h[pixmapWidth], h[pixmapHeight], h[bytesPerLine], h[bitsPerPixel]/8
	off := h[headerSize] + 12*h[ncolors]
	if w <= 0 || ht <= 0 || bpl < w*bpp || off < 4*fields || off+bpl*ht > len(b) {
		return nil, fmt.Errorf("xwd: %dx%d, %d bytes a line, pixels at %d: the file holds %d bytes", w, ht, bpl, off, len(b))
	}
	channel := func(mask uint32) func(p uint32) uint8 {
		shift, width := bits.TrailingZeros32(mask), bits.OnesCount32(mask)
		max := uint32(1)<<width - 1
		return func(p uint32) uint8 { return uint8((p & mask >> shift) * 255 / max) }
	}
	red, green, blue := channel(uint32(h[redMask])), channel(uint32(h[greenMask])), channel(uint32(h[blueMask]))
	img := image.NewRGBA(image.Rect(0, 0, w, ht))
	for y := range ht {
		row := b[off+y*bpl:]
		for x := range w {
			var p uint32
			for i := range bpp {
				v := uint32(row[x*bpp+i])
				if h[byteOrder] == 0 { // LSBFirst
					p |= v << (8 * i)
				} else {
					p = p<<8 | v
				}
			}
			img.SetRGBA(x, y, color.RGBA{red(p), green(p), blue(p), 255})
		}
	}
	return img, nil
}

// TestDecodeXWD decodes a 3×2 image in each byte order, with the
// padding at the end of each line that X adds.
func TestDecodeXWD(t *testing.T) {
	want := [][]color.RGBA{
		{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}},
		{{1, 2, 3, 255}, {250, 251, 252, 255}, {0, 0, 0, 255}},
	}
	for _, lsb := range []bool{true, false} {
		t.Run("lsb="+strconv.FormatBool(lsb), func(t *testing.T) {
			name := "Xvfb test\x00"
			hdr := []uint32{uint32(100 + len(name)), 7, 2, 24, 3, 2, 0, 1, 32, 1, 32, 32, 16, 4,
				0xff0000, 0xff00, 0xff, 8, 256, 2, 3, 2, 0, 0, 0}
			if lsb {
				hdr[7], hdr[9] = 0, 0
			}
			var b []byte
			for _, v := range hdr {
				b = binary.BigEndian.AppendUint32(b, v)
			}
			b = append(b, name...)
			b = append(b, make([]byte, 12*2)...) // two colour map entries
			for _, row := range want {
				for _, c := range row {
					p := uint32(c.R)<<16 | uint32(c.G)<<8 | uint32(c.B)
					if lsb {
						b = binary.LittleEndian.AppendUint32(b, p)
					} else {
						b = binary.BigEndian.AppendUint32(b, p)
					}
				}
				b = append(b, 0xee, 0xee, 0xee, 0xee) // padding to 16 bytes
			}
			img, err := decodeXWD(b)
			if err != nil {
				t.Fatal(err)
			}
			if got := img.Bounds(); got != image.Rect(0, 0, 3, 2) {
				t.Fatalf("bounds %v, want 3x2", got)
			}
			for y, row := range want {
				for x, c := range row {
					if got := img.RGBAAt(x, y); got != c {
						t.Errorf("(%d, %d) = %v, want %v", x, y, got, c)
					}
				}
			}
			if _, err := decodeXWD(b[:len(b)-1]); err == nil {
				t.Error("a file one byte short decoded")
			}
		})
	}
}
