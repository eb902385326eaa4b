package main

import (
	"image/color"
	"math"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/ebitenutil"
	"github.com/objectsharing/oss/wissenheim/client"
)

// spriteShader draws every sprite of a frame in one draw call. Each
// vertex says, in Custom0, what its quad is: 0 a rectangle in the vertex
// colour; 1 a disk, whose pixel's offset from the centre is Custom1 and
// Custom2 and whose radius is Custom3, in pixels, its edge fading over
// the last pixel inside the radius (as the disk image drawn before did,
// so that a disk drawn over another does not reach further); 2 a glyph of the font image (Images[0]), tinted by
// the colour. Colours are premultiplied. A rectangle and a disk read no
// texture, which a software renderer pays for per pixel.
const spriteShader = `//kage:unit pixels

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

// The kinds of quad spriteShader draws.
const (
	quadRect  = 0
	quadDisk  = 1
	quadGlyph = 2
)

// fontCols is how many glyphs a row of the font image holds.
const fontCols = 16

// drawer turns a frame's sprites into one DrawTrianglesShader call,
// reusing its vertex and index slices from frame to frame: once they
// have grown, a frame allocates nothing.
type drawer struct {
	shader *ebiten.Shader
	font   *ebiten.Image // the glyphs of runes 0 to 255, fontCols a row
	vs     []ebiten.Vertex
	is     []uint32
	op     ebiten.DrawTrianglesShaderOptions
}

func newDrawer() *drawer {
	sh, err := ebiten.NewShader([]byte(spriteShader))
	if err != nil {
		panic("wissenheim: sprite shader: " + err.Error())
	}
	// The glyphs of Ebiten's debug font, which labels were drawn in, each
	// drawn once in its own cell (DebugPrintAt draws a glyph one pixel
	// right of where it is asked to).
	font := ebiten.NewImage(fontCols*client.GlyphW, 256/fontCols*client.GlyphH)
	for c := range 256 {
		if c == '\n' {
			continue
		}
		ebitenutil.DebugPrintAt(font, string(rune(c)), c%fontCols*client.GlyphW-1, c/fontCols*client.GlyphH)
	}
	d := &drawer{shader: sh, font: font}
	d.op.Images[0] = font
	return d
}

// draw draws the sprites on screen, in order, in one call.
func (d *drawer) draw(screen *ebiten.Image, sprites []client.Sprite) {
	vs := d.vs[:0]
	for i := range sprites {
		s := &sprites[i]
		switch s.Shape {
		case client.Rect:
			vs = appendQuad(vs, s.X, s.Y, s.X+s.W, s.Y+s.H, s.Color, quadRect, 0, 0, 0, 0, 0)
		case client.Disk:
			// A pixel beyond the radius, for pixels the edge touches.
			e := s.W + 1
			vs = appendQuad(vs, s.X-e, s.Y-e, s.X+e, s.Y+e, s.Color, quadDisk, -e, -e, e, e, s.W)
		case client.Text:
			// Where a label image of the text, its glyphs one pixel
			// right of its left edge, was drawn: at a whole pixel.
			x, y := math.Round(s.X)+1, math.Round(s.Y)
			for _, r := range s.Text {
				if r == '\n' {
					break // DebugPrintAt went to a next line, outside the label
				}
				if r <= 0xff && r != ' ' {
					fx := float64(int(r) % fontCols * client.GlyphW)
					fy := float64(int(r) / fontCols * client.GlyphH)
					vs = appendQuad(vs, x, y, x+client.GlyphW, y+client.GlyphH, s.Color, quadGlyph,
						fx, fy, fx+client.GlyphW, fy+client.GlyphH, 0)
				}
				x += client.GlyphW
			}
		}
	}
	d.vs = vs
	n := len(vs) / 4 * 6
	for q := uint32(len(d.is) / 6); len(d.is) < n; q++ {
		v := 4 * q
		d.is = append(d.is, v, v+1, v+2, v+1, v+3, v+2)
	}
	if n > 0 {
		screen.DrawTrianglesShader32(vs, d.is[:n], d.shader, &d.op)
	}
}

// appendQuad appends the four corners of the rectangle (x0, y0)–(x1, y1)
// in colour c: for a glyph, (u0, v0)–(u1, v1) is its cell in the font
// image; for a disk, the corners' offsets from its centre, r its radius.
func appendQuad(vs []ebiten.Vertex, x0, y0, x1, y1 float64, c color.RGBA, kind float32, u0, v0, u1, v1, r float64) []ebiten.Vertex {
	cr, cg, cb, ca := float32(c.R)/255, float32(c.G)/255, float32(c.B)/255, float32(c.A)/255
	v := ebiten.Vertex{ColorR: cr, ColorG: cg, ColorB: cb, ColorA: ca, Custom0: kind, Custom3: float32(r)}
	corner := func(x, y, u, w float64) ebiten.Vertex {
		v.DstX, v.DstY = float32(x), float32(y)
		switch kind {
		case quadGlyph:
			v.SrcX, v.SrcY = float32(u), float32(w)
		case quadDisk:
			v.Custom1, v.Custom2 = float32(u), float32(w)
		}
		return v
	}
	return append(vs, corner(x0, y0, u0, v0), corner(x1, y0, u1, v0), corner(x0, y1, u0, v1), corner(x1, y1, u1, v1))
}
