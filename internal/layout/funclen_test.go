package layout

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the most lines a function may span, from its func
// keyword to its closing brace, without a reason: about a screen, with
// some slack.
const maxFuncLines = 80

// longMarker starts the comment line, first in a function's body, that
// gives the reason a function is longer than maxFuncLines (a state
// machine's switch over message types, a table).
const longMarker = "// long:"

// notYetSplit are the functions over maxFuncLines, without a reason, in
// packages being reworked apart from this list: each at its length when it
// was listed, which it may not exceed. A function leaves the list when it
// is split into named steps or given its reason.
var notYetSplit = map[string]int{}

// longFunc is a function over the limit.
type longFunc struct {
	pos    string // file:line of its func keyword
	name   string // its package's directory in the module and its name: "persist Store.Checkpoint"
	lines  int
	reason string // from its longMarker line; "" without one
}

// TestFunctionLength checks that no function of the module's non-test
// files is over maxFuncLines without a reason.
func TestFunctionLength(t *testing.T) {
	fns, err := moduleLongFuncs("../..", maxFuncLines)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, fn := range fns {
		if fn.reason != "" {
			continue
		}
		if was, ok := notYetSplit[fn.name]; ok {
			listed[fn.name] = true
			if fn.lines > was {
				t.Errorf("%s: %s grew from %d to %d lines: split it into named steps, or give its reason in a %q line first in its body", fn.pos, fn.name, was, fn.lines, longMarker)
			}
			continue
		}
		t.Errorf("%s: %s is %d lines, over %d: split it into named steps (functions whose names say what they do), or give its reason in a %q line first in its body", fn.pos, fn.name, fn.lines, maxFuncLines, longMarker)
	}
	for name := range notYetSplit {
		if !listed[name] {
			t.Errorf("%s is no longer over %d lines without a reason: take it off notYetSplit", name, maxFuncLines)
		}
	}
}

// TestFunctionLengthRule checks the rule on a file of its own.
func TestFunctionLengthRule(t *testing.T) {
	body := strings.Repeat("\t_ = 0\n", 8)
	src := "package p\n\n" +
		"func short() {\n" + body + "}\n\n" +
		"func long() {\n" + body + body + "}\n\n" +
		"// marked has a reason.\nfunc marked() {\n\t// long: a table, one row a line\n" + body + body + "}\n\n" +
		"func empty() {\n\t// long:\n" + body + body + "}\n\n" +
		"func late() {\n\t_ = 0\n\t// long: not first in the body\n" + body + body + "}\n\n" +
		"type T struct{}\n\nfunc (*T) m() {\n" + body + body + "}\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, fn := range longFuncs(fset, f, "p", 10) {
		got[fn.name] = fn.reason
	}
	want := map[string]string{"p long": "", "p marked": "a table, one row a line", "p empty": "", "p late": "", "p T.m": ""}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("long functions %v, want %v", got, want)
	}
}

// moduleLongFuncs returns the functions over max lines in the non-test,
// non-generated Go files of the module at root, leaving out nested
// modules (bench) and testdata.
func moduleLongFuncs(root string, max int) ([]longFunc, error) {
	var fns []longFunc
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if file == root {
				return nil
			}
			name := d.Name()
			if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(file, "go.mod")); err == nil {
				return filepath.SkipDir // a module of its own
			}
			return nil
		}
		if !strings.HasSuffix(file, ".go") || strings.HasSuffix(file, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, file, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		dir, err := filepath.Rel(root, filepath.Dir(file))
		if err != nil {
			return err
		}
		fns = append(fns, longFuncs(fset, f, filepath.ToSlash(dir), max)...)
		return nil
	})
	return fns, err
}

// longFuncs returns the functions of f, a file of the package in dir,
// over max lines.
func longFuncs(fset *token.FileSet, f *ast.File, dir string, max int) []longFunc {
	var fns []longFunc
	for _, decl := range f.Decls {
		d, ok := decl.(*ast.FuncDecl)
		if !ok || d.Body == nil {
			continue
		}
		start := fset.Position(d.Pos())
		lines := fset.Position(d.Body.Rbrace).Line - start.Line + 1
		if lines <= max {
			continue
		}
		fns = append(fns, longFunc{
			pos:    fmt.Sprintf("%s:%d", path.Join(dir, filepath.Base(start.Filename)), start.Line),
			name:   dir + " " + funcName(d),
			lines:  lines,
			reason: longReason(fset, f, d.Body),
		})
	}
	return fns
}

// funcName returns a function's name, after its receiver's type if it is
// a method: "Store.Checkpoint".
func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name
	}
	t := d.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + d.Name.Name
	}
	return d.Name.Name
}

// longReason returns the reason a longMarker line on the first line of
// body gives, or "".
func longReason(fset *token.FileSet, f *ast.File, body *ast.BlockStmt) string {
	first := fset.Position(body.Lbrace).Line + 1
	for _, g := range f.Comments {
		if g.Pos() < body.Lbrace || g.Pos() > body.Rbrace || fset.Position(g.Pos()).Line != first {
			continue
		}
		if reason, ok := strings.CutPrefix(g.List[0].Text, longMarker); ok {
			return strings.TrimSpace(reason)
		}
	}
	return ""
}
