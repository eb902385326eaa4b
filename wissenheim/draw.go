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
// with shapeShader (no texture), a run of text with textShader (no
// disk), and text with small shapes between, as names on their labels,
// with spriteShader; a frame is a few runs of each, not a call a sprite.
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
	textShader = `//kage:unit pixels

package main

func Fragment(dst vec4, src vec2, color vec4) vec4 {
	return imageSrc0UnsafeAt(src) * color
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
	batchText          // glyphs only
	batchSprite        // anything: text and what lies between
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

// batch is a run of triangles drawn with one shader: the vertices from
// vs[v] and the indices from is[i], up to the next batch's, the indices
// numbering the batch's vertices from 0.
type batch struct {
	kind int
	v, i int
}

func newDrawer() *drawer {
	d := &drawer{}
	for kind, src := range [batchKinds]string{batchRect: rectShader, batchShape: shapeShader, batchText: textShader, batchSprite: spriteShader} {
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

// draw draws the sprites on the w×h screen, in order; with none, it
// fills the screen with the floor's colour. Their leading opaque
// rectangles (the first of which tile the screen: see client.Layout)
// replace what was there, so the renderer reads nothing under them.
// Positions and sizes are scaled by geoM's scale and moved by its
// translation (the identity but where the screen's pixels are not the
// layout's).
func (d *drawer) draw(dst target, w, h int, geoM ebiten.GeoM, sprites []client.Sprite) {
	t := xform{s: geoM.Element(0, 0), x: geoM.Element(0, 2), y: geoM.Element(1, 2)}
	d.vs, d.is, d.batches = d.vs[:0], d.is[:0], d.batches[:0]
	d.begin(batchRect)
	if len(sprites) == 0 {
		d.quad(xform{s: 1}, 0, 0, float64(w), float64(h), client.Floor, quadRect, 0, 0, 0, 0, 0)
	}
	first := 0
	for ; first < len(sprites); first++ {
		s := &sprites[first]
		if s.Shape != client.Rect || s.Color.A != 255 {
			break
		}
		d.quad(t, s.X, s.Y, s.X+s.W, s.Y+s.H, s.Color, quadRect, 0, 0, 0, 0, 0)
	}
	for i := first; i < len(sprites); i++ {
		s := &sprites[i]
		last := d.batches[len(d.batches)-1].kind
		kind := batchSprite
		switch {
		case s.Shape == client.Rect && s.W*s.H >= largeRect:
			kind = batchRect
		case s.Shape == client.Text && last != batchSprite:
			kind = batchText
		case s.Shape != client.Text && last != batchSprite && last != batchText:
			kind = batchShape
		}
		if len(d.batches) == 1 || kind != last {
			d.begin(kind)
		}
		d.sprite(t, s)
	}
	for i, b := range d.batches {
		vEnd, iEnd := len(d.vs), len(d.is)
		if i+1 < len(d.batches) {
			vEnd, iEnd = d.batches[i+1].v, d.batches[i+1].i
		}
		if iEnd == b.i {
			continue
		}
		op := &d.op
		if i == 0 {
			op = &d.floorOp
		}
		dst.DrawTrianglesShader32(d.vs[b.v:vEnd], d.is[b.i:iEnd], d.shaders[b.kind], op)
	}
}

// begin starts a batch of the given kind.
func (d *drawer) begin(kind int) {
	d.batches = append(d.batches, batch{kind: kind, v: len(d.vs), i: len(d.is)})
}

// smallDisk is the radius, in the target's pixels, up to which a disk is
// drawn as one triangle around it rather than a square: for the
// software renderer a tiny disk's cost is its triangles, not its pixels
// (a thousand avatars in a whole room are disks 1.5 pixels wide).
const smallDisk = 4

// sprite appends the triangles of sprite s, through t.
func (d *drawer) sprite(t xform, s *client.Sprite) {
	switch s.Shape {
	case client.Rect:
		d.quad(t, s.X, s.Y, s.X+s.W, s.Y+s.H, s.Color, quadRect, 0, 0, 0, 0, 0)
	case client.Disk:
		// A pixel beyond the radius, for pixels the edge touches.
		e := s.W + 1
		if s.W*t.s <= smallDisk {
			d.tri(t, s.X, s.Y, e, s.Color, s.W)
			return
		}
		d.quad(t, s.X-e, s.Y-e, s.X+e, s.Y+e, s.Color, quadDisk, -e, -e, e, e, s.W)
	case client.Text:
		// Where a label image of the text, its glyphs one pixel
		// right of its left edge, was drawn: at a whole pixel.
		x, y := math.Round(s.X)+1, math.Round(s.Y)
		for _, r := range s.Text {
			if r == '\n' {
				break // DebugPrintAt went to a next line, outside the label
			}
			if r <= 0xff && r != ' ' {
				d.quad(t, x, y, x+client.GlyphW, y+client.GlyphH, s.Color, quadGlyph, 0, 0, 0, 0, 0)
				// Its cell in the font image, in the image's pixels.
				fx := float32(int(r) % fontCols * client.GlyphW)
				fy := float32(int(r) / fontCols * client.GlyphH)
				q := d.vs[len(d.vs)-4:]
				q[0].SrcX, q[0].SrcY = fx, fy
				q[1].SrcX, q[1].SrcY = fx+client.GlyphW, fy
				q[2].SrcX, q[2].SrcY = fx, fy+client.GlyphH
				q[3].SrcX, q[3].SrcY = fx+client.GlyphW, fy+client.GlyphH
			}
			x += client.GlyphW
		}
	}
}

// quad appends the two triangles of the rectangle (x0, y0)–(x1, y1)
// through t (see xform.quad) to the current batch.
func (d *drawer) quad(t xform, x0, y0, x1, y1 float64, c color.RGBA, kind float32, u0, v0, u1, v1, r float64) {
	n := uint32(len(d.vs) - d.batches[len(d.batches)-1].v)
	d.vs = t.quad(d.vs, x0, y0, x1, y1, c, kind, u0, v0, u1, v1, r)
	d.is = append(d.is, n, n+1, n+2, n+1, n+3, n+2)
}

// tri appends to the current batch the disk of centre (x, y) and radius
// r in colour c as one equilateral triangle whose inscribed circle has
// radius e (at least r), through t.
func (d *drawer) tri(t xform, x, y, e float64, c color.RGBA, r float64) {
	n := uint32(len(d.vs) - d.batches[len(d.batches)-1].v)
	h := math.Sqrt(3) * e
	d.vs = t.vertex(d.vs, x, y+2*e, c, quadDisk, 0, 2*e, r)
	d.vs = t.vertex(d.vs, x-h, y-e, c, quadDisk, -h, -e, r)
	d.vs = t.vertex(d.vs, x+h, y-e, c, quadDisk, h, -e, r)
	d.is = append(d.is, n, n+1, n+2)
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

// vertex appends one vertex at (x, y) in colour c, of the kind given,
// with (u, v) in Custom1 and Custom2 and r in Custom3, scaled (see quad).
func (t xform) vertex(vs []ebiten.Vertex, x, y float64, c color.RGBA, kind float32, u, v, r float64) []ebiten.Vertex {
	return append(vs, ebiten.Vertex{DstX: float32(x*t.s + t.x), DstY: float32(y*t.s + t.y),
		ColorR: float32(c.R) / 255, ColorG: float32(c.G) / 255, ColorB: float32(c.B) / 255, ColorA: float32(c.A) / 255,
		Custom0: kind, Custom1: float32(u * t.s), Custom2: float32(v * t.s), Custom3: float32(r * t.s)})
}

// touch draws one pixel of the floor's colour at the corner of img.
// Ebiten presents a frame only if its offscreen image changed; a window
// that draws on the final screen itself draws this on the offscreen.
func (d *drawer) touch(img *ebiten.Image) {
	d.vs, d.is, d.batches = d.vs[:0], d.is[:0], d.batches[:0]
	d.begin(batchRect)
	d.quad(xform{s: 1}, 0, 0, 1, 1, client.Floor, quadRect, 0, 0, 0, 0, 0)
	img.DrawTrianglesShader32(d.vs, d.is, d.shaders[batchRect], &d.floorOp)
}
