package main

import (
	"image/color"
	"math"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/ebitenutil"
	"github.com/objectsharing/oss/wissenheim/client"
)

// The sprite shaders, one for each kind of quad. Colours are
// premultiplied. Mesa's software renderer (llvmpipe) runs every branch of
// a shader for every pixel, so one shader for all three kinds paid a
// texture read and a square root for each pixel of the floor and of
// every rectangle; a shader of its own per kind pays for what its quads
// need. Each is drawn by consecutive sprites of its kind in one call.
const (
	// rectShader fills a quad in its colour, reading no texture.
	rectShader = `//kage:unit pixels

package main

func Fragment(dst vec4, src vec2, color vec4) vec4 {
	return color
}
`
	// diskShader fills a disk whose pixel's offset from the centre is
	// Custom0 and Custom1 and whose radius is Custom2, in pixels, its
	// edge fading over the last pixel inside the radius (as the disk
	// image drawn before did, so that a disk drawn over another does not
	// reach further).
	diskShader = `//kage:unit pixels

package main

func Fragment(dst vec4, src vec2, color vec4, custom vec4) vec4 {
	return color * clamp(custom.z-length(custom.xy), 0, 1)
}
`
	// glyphShader draws a glyph of the font image (Images[0]), tinted by
	// the colour.
	glyphShader = `//kage:unit pixels

package main

func Fragment(dst vec4, src vec2, color vec4) vec4 {
	return imageSrc0UnsafeAt(src) * color
}
`
)

// fontCols is how many glyphs a row of the font image holds.
const fontCols = 16

// target is what the drawer draws on: the window's offscreen image, or
// the final screen itself.
type target interface {
	DrawTrianglesShader32(vertices []ebiten.Vertex, indices []uint32, shader *ebiten.Shader, options *ebiten.DrawTrianglesShaderOptions)
}

// drawer turns a frame's sprites into a few DrawTrianglesShader calls
// (the floor, then one for each run of sprites of one kind), reusing its
// vertex and index slices from frame to frame: once they have grown, a
// frame allocates nothing.
type drawer struct {
	shaders [client.Text + 1]*ebiten.Shader // by client.Shape
	font    *ebiten.Image                   // the glyphs of runes 0 to 255, fontCols a row
	vs      []ebiten.Vertex
	is      []uint32
	batches []batch
	op      ebiten.DrawTrianglesShaderOptions // rectangles and disks
	glyphOp ebiten.DrawTrianglesShaderOptions // glyphs: the font image
	floorOp ebiten.DrawTrianglesShaderOptions // the floor: no blending
}

// batch is a sequence of sprites of one shape, whose quads are vs[from:to].
type batch struct {
	shape    client.Shape
	from, to int
}

func newDrawer() *drawer {
	d := &drawer{}
	for shape, src := range map[client.Shape]string{client.Rect: rectShader, client.Disk: diskShader, client.Text: glyphShader} {
		sh, err := ebiten.NewShader([]byte(src))
		if err != nil {
			panic("wissenheim: sprite shader: " + err.Error())
		}
		d.shaders[shape] = sh
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
	d.glyphOp.Images[0] = d.font
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
	vs = xform{s: 1}.quad(vs, 0, 0, float64(w), float64(h), client.Floor, 0, 0, 0, 0, 0)
	d.batches = append(d.batches[:0], batch{shape: client.Rect, from: 0, to: 4})
	for i := range sprites {
		s := &sprites[i]
		if r := &d.batches[len(d.batches)-1]; len(d.batches) == 1 || r.shape != s.Shape {
			d.batches = append(d.batches, batch{shape: s.Shape, from: len(vs)})
		}
		switch s.Shape {
		case client.Rect:
			vs = t.quad(vs, s.X, s.Y, s.X+s.W, s.Y+s.H, s.Color, 0, 0, 0, 0, 0)
		case client.Disk:
			// A pixel beyond the radius, for pixels the edge touches.
			e := s.W + 1
			vs = t.quad(vs, s.X-e, s.Y-e, s.X+e, s.Y+e, s.Color, -e, -e, e, e, s.W)
		case client.Text:
			// Where a label image of the text, its glyphs one pixel
			// right of its left edge, was drawn: at a whole pixel.
			x, y := math.Round(s.X)+1, math.Round(s.Y)
			for _, r := range s.Text {
				if r == '\n' {
					break // DebugPrintAt went to a next line, outside the label
				}
				if r <= 0xff && r != ' ' {
					vs = t.quad(vs, x, y, x+client.GlyphW, y+client.GlyphH, s.Color, 0, 0, 0, 0, 0)
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
	for i, r := range d.batches {
		if r.to == r.from {
			continue
		}
		op := &d.op
		switch {
		case i == 0:
			op = &d.floorOp
		case r.shape == client.Text:
			op = &d.glyphOp
		}
		// Each run's quads are numbered from 0, as the indices are.
		dst.DrawTrianglesShader32(vs[r.from:r.to], d.is[:(r.to-r.from)/4*6], d.shaders[r.shape], op)
	}
}

// xform maps layout pixels to the target's: scale s, then move by (x, y).
type xform struct{ s, x, y float64 }

// quad appends the four corners of the rectangle (x0, y0)–(x1, y1) in
// colour c. (u0, v0)–(u1, v1) go to Custom0 and Custom1, r to Custom2,
// scaled: for a disk, the corners' offsets from its centre and its
// radius, in the target's pixels.
func (t xform) quad(vs []ebiten.Vertex, x0, y0, x1, y1 float64, c color.RGBA, u0, v0, u1, v1, r float64) []ebiten.Vertex {
	cr, cg, cb, ca := float32(c.R)/255, float32(c.G)/255, float32(c.B)/255, float32(c.A)/255
	v := ebiten.Vertex{ColorR: cr, ColorG: cg, ColorB: cb, ColorA: ca, Custom2: float32(r * t.s)}
	corner := func(x, y, u, w float64) ebiten.Vertex {
		v.DstX, v.DstY = float32(x*t.s+t.x), float32(y*t.s+t.y)
		v.Custom0, v.Custom1 = float32(u*t.s), float32(w*t.s)
		return v
	}
	return append(vs, corner(x0, y0, u0, v0), corner(x1, y0, u1, v0), corner(x0, y1, u0, v1), corner(x1, y1, u1, v1))
}

// touch draws one pixel of the floor's colour at the corner of img.
// Ebiten presents a frame only if its offscreen image changed; a window
// that draws on the final screen itself draws this on the offscreen.
func (d *drawer) touch(img *ebiten.Image) {
	vs := xform{s: 1}.quad(d.vs[:0], 0, 0, 1, 1, client.Floor, 0, 0, 0, 0, 0)
	img.DrawTrianglesShader32(vs, []uint32{0, 1, 2, 1, 3, 2}, d.shaders[client.Rect], &d.floorOp)
	d.vs = vs
}
