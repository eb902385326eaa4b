package main

import (
	"image/color"
	"math"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/ebitenutil"
	"github.com/objectsharing/oss/wissenheim/client"
)

// The sprite shaders. Each vertex says, in Custom0, what its quad is:
// 0 a rectangle in the vertex colour; 1 a disk, whose pixel's offset
// from the centre is Custom1 and Custom2 and whose radius is Custom3, in
// pixels, its edge fading over the last pixel inside the radius (as the
// disk image drawn before did, so that a disk drawn over another does
// not reach further); 2 a glyph of the font image (Images[0]), tinted by
// the colour. Colours are premultiplied.
//
// Mesa's software renderer (llvmpipe) runs every branch of a shader for
// every pixel, so a shader that can draw glyphs pays a texture read for
// each pixel of every rectangle and disk it draws. The drawer therefore
// draws a large rectangle with rectShader, disks and small rectangles
// with shapeShader (no texture), and text, with what follows it, with
// spriteShader; a frame is a few runs of each, not a call a sprite.
const (
	rectShader = `//kage:unit pixels

package main

func Fragment(dst vec4, src vec2, color vec4) vec4 {
	return color
}
`
	shapeShader = `//kage:unit pixels

package main

func Fragment(dst vec4, src vec2, color vec4, custom vec4) vec4 {
	if custom.x < 0.5 {
		return color
	}
	return color * clamp(custom.w-length(custom.yz), 0, 1)
}
`
	spriteShader = `//kage:unit pixels

package main

func Fragment(dst vec4, src vec2, color vec4, custom vec4) vec4 {
	if custom.x < 0.5 {
		return color
	}
	if custom.x < 1.5 {
		return color * clamp(custom.w-length(custom.yz), 0, 1)
	}
	return imageSrc0UnsafeAt(src) * color
}
`
)

// The kinds of quad, in Custom0.
const (
	quadRect  = 0
	quadDisk  = 1
	quadGlyph = 2
)

// The shaders a batch of quads is drawn with.
const (
	batchRect   = iota // rectangles only
	batchShape         // rectangles and disks
	batchSprite        // anything: text
	batchKinds
)

// largeRect is the area, in pixels, from which a rectangle is drawn
// with rectShader, in a batch of its own if need be: the floor's
// margins, walls, the overlay's background.
const largeRect = 8192

// fontCols is how many glyphs a row of the font image holds.
const fontCols = 16

// target is what the drawer draws on: the window's offscreen image, or
// the final screen itself.
type target interface {
	DrawTrianglesShader32(vertices []ebiten.Vertex, indices []uint32, shader *ebiten.Shader, options *ebiten.DrawTrianglesShaderOptions)
}

// drawer turns a frame's sprites into a few DrawTrianglesShader calls
// (the floor, then one for each run of sprites drawn with one shader),
// reusing its vertex and index slices from frame to frame: once they
// have grown, a frame allocates nothing.
type drawer struct {
	shaders [batchKinds]*ebiten.Shader
	font    *ebiten.Image // the glyphs of runes 0 to 255, fontCols a row
	vs      []ebiten.Vertex
	is      []uint32
	batches []batch
	op      ebiten.DrawTrianglesShaderOptions // the font image for glyphs
	floorOp ebiten.DrawTrianglesShaderOptions // the floor: no blending
}

// batch is a run of quads, vs[from:to], drawn with one shader.
type batch struct {
	kind     int
	from, to int
}

func newDrawer() *drawer {
	d := &drawer{}
	for kind, src := range [batchKinds]string{batchRect: rectShader, batchShape: shapeShader, batchSprite: spriteShader} {
		sh, err := ebiten.NewShader([]byte(src))
		if err != nil {
			panic("wissenheim: sprite shader: " + err.Error())
		}
		d.shaders[kind] = sh
	}
	// The glyphs of Ebiten's debug font, which labels were drawn in, each
	// drawn once in its own cell (DebugPrintAt draws a glyph one pixel
	// right of where it is asked to).
	d.font = ebiten.NewImage(fontCols*client.GlyphW, 256/fontCols*client.GlyphH)
	for c := range 256 {
		if c == '\n' {
			continue
		}
		ebitenutil.DebugPrintAt(d.font, string(rune(c)), c%fontCols*client.GlyphW-1, c/fontCols*client.GlyphH)
	}
	d.op.Images[0] = d.font
	// The floor replaces every pixel: nothing under it is read.
	d.floorOp.Blend = ebiten.BlendCopy
	return d
}

// draw fills the w×h screen with the floor's colour and draws the
// sprites over it, in order. Positions and sizes are scaled by geoM's
// scale and moved by its translation (the identity but where the
// screen's pixels are not the layout's).
func (d *drawer) draw(dst target, w, h int, geoM ebiten.GeoM, sprites []client.Sprite) {
	t := xform{s: geoM.Element(0, 0), x: geoM.Element(0, 2), y: geoM.Element(1, 2)}
	vs := d.vs[:0]
	vs = xform{s: 1}.quad(vs, 0, 0, float64(w), float64(h), client.Floor, quadRect, 0, 0, 0, 0, 0)
	d.batches = append(d.batches[:0], batch{kind: batchRect, from: 0, to: 4})
	for i := range sprites {
		s := &sprites[i]
		last := d.batches[len(d.batches)-1].kind
		kind := batchSprite
		switch {
		case s.Shape == client.Rect && s.W*s.H >= largeRect:
			kind = batchRect
		case s.Shape != client.Text && last != batchSprite:
			kind = batchShape
		}
		if len(d.batches) == 1 || kind != last {
			d.batches = append(d.batches, batch{kind: kind, from: len(vs)})
		}
		switch s.Shape {
		case client.Rect:
			vs = t.quad(vs, s.X, s.Y, s.X+s.W, s.Y+s.H, s.Color, quadRect, 0, 0, 0, 0, 0)
		case client.Disk:
			// A pixel beyond the radius, for pixels the edge touches.
			e := s.W + 1
			vs = t.quad(vs, s.X-e, s.Y-e, s.X+e, s.Y+e, s.Color, quadDisk, -e, -e, e, e, s.W)
		case client.Text:
			// Where a label image of the text, its glyphs one pixel
			// right of its left edge, was drawn: at a whole pixel.
			x, y := math.Round(s.X)+1, math.Round(s.Y)
			for _, r := range s.Text {
				if r == '\n' {
					break // DebugPrintAt went to a next line, outside the label
				}
				if r <= 0xff && r != ' ' {
					vs = t.quad(vs, x, y, x+client.GlyphW, y+client.GlyphH, s.Color, quadGlyph, 0, 0, 0, 0, 0)
					// Its cell in the font image, in the image's pixels.
					fx := float32(int(r) % fontCols * client.GlyphW)
					fy := float32(int(r) / fontCols * client.GlyphH)
					q := vs[len(vs)-4:]
					q[0].SrcX, q[0].SrcY = fx, fy
					q[1].SrcX, q[1].SrcY = fx+client.GlyphW, fy
					q[2].SrcX, q[2].SrcY = fx, fy+client.GlyphH
					q[3].SrcX, q[3].SrcY = fx+client.GlyphW, fy+client.GlyphH
				}
				x += client.GlyphW
			}
		}
		d.batches[len(d.batches)-1].to = len(vs)
	}
	d.vs = vs
	n := len(vs) / 4 * 6
	for q := uint32(len(d.is) / 6); len(d.is) < n; q++ {
		v := 4 * q
		d.is = append(d.is, v, v+1, v+2, v+1, v+3, v+2)
	}
	for i, b := range d.batches {
		if b.to == b.from {
			continue
		}
		op := &d.op
		if i == 0 {
			op = &d.floorOp
		}
		// Each batch's quads are numbered from 0, as the indices are.
		dst.DrawTrianglesShader32(vs[b.from:b.to], d.is[:(b.to-b.from)/4*6], d.shaders[b.kind], op)
	}
}

// xform maps layout pixels to the target's: scale s, then move by (x, y).
type xform struct{ s, x, y float64 }

// quad appends the four corners of the rectangle (x0, y0)–(x1, y1) in
// colour c, a quad of the kind given. (u0, v0)–(u1, v1) go to Custom1
// and Custom2, r to Custom3, scaled: for a disk, the corners' offsets
// from its centre and its radius, in the target's pixels.
func (t xform) quad(vs []ebiten.Vertex, x0, y0, x1, y1 float64, c color.RGBA, kind float32, u0, v0, u1, v1, r float64) []ebiten.Vertex {
	cr, cg, cb, ca := float32(c.R)/255, float32(c.G)/255, float32(c.B)/255, float32(c.A)/255
	v := ebiten.Vertex{ColorR: cr, ColorG: cg, ColorB: cb, ColorA: ca, Custom0: kind, Custom3: float32(r * t.s)}
	corner := func(x, y, u, w float64) ebiten.Vertex {
		v.DstX, v.DstY = float32(x*t.s+t.x), float32(y*t.s+t.y)
		v.Custom1, v.Custom2 = float32(u*t.s), float32(w*t.s)
		return v
	}
	return append(vs, corner(x0, y0, u0, v0), corner(x1, y0, u1, v0), corner(x0, y1, u0, v1), corner(x1, y1, u1, v1))
}

// touch draws one pixel of the floor's colour at the corner of img.
// Ebiten presents a frame only if its offscreen image changed; a window
// that draws on the final screen itself draws this on the offscreen.
func (d *drawer) touch(img *ebiten.Image) {
	vs := xform{s: 1}.quad(d.vs[:0], 0, 0, 1, 1, client.Floor, quadRect, 0, 0, 0, 0, 0)
	img.DrawTrianglesShader32(vs, []uint32{0, 1, 2, 1, 3, 2}, d.shaders[batchRect], &d.floorOp)
	d.vs = vs
}
