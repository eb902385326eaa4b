package layout

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// notInParallel are the calls a test that runs with t.Parallel may not
// make, in its body or its subtests': each sees or changes the whole
// process, and the tests that run beside it. goleak.VerifyNone counts
// every other parallel test's goroutines as leaks (a package's TestMain
// checks leaks once, after the run), and runtime.NumGoroutine and oss's
// socketCount count theirs; runtime.GOMAXPROCS and starveCPU take
// processors from them; the harness adds to HarnessSummary's
// process-wide counts.
var notInParallel = map[string]bool{
	"goleak.VerifyNone":    true,
	"runtime.NumGoroutine": true,
	"socketCount":          true,
	"runtime.GOMAXPROCS":   true,
	"starveCPU":            true,
	"newHarness":           true,
	"newHarnessWith":       true,
}

// TestParallelTestsTouchNothingShared checks that no test of the module
// that calls t.Parallel makes a call of notInParallel.
func TestParallelTestsTouchNothingShared(t *testing.T) {
	bad, err := moduleParallelViolations("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Errorf("%s: runs with t.Parallel: make it serial, or leave the call to the package's TestMain", b)
	}
}

// TestParallelTestsRule checks the rule on a file of its own.
func TestParallelTestsRule(t *testing.T) {
	src := `package p

func TestSerial(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	runtime.GOMAXPROCS(1)
}

func TestParallel(t *testing.T) {
	t.Parallel()
	other.VerifyNone(t)
}

func TestParallelLeak(t *testing.T) {
	t.Parallel()
	defer goleak.VerifyNone(t)
}

func TestParallelSubtestStarves(t *testing.T) {
	t.Parallel()
	t.Run("a", func(t *testing.T) { starveCPU(t) })
}

func TestSubtestParallelHarness(t *testing.T) {
	t.Run("a", func(t *testing.T) {
		t.Parallel()
		newHarnessWith(t, 1, 3, false, nil)
	})
}

func checked(t *testing.T) { t.Cleanup(func() { goleak.VerifyNone(t) }) }

func cluster(t *testing.T) { checked(t) }

func TestParallelHelperLeak(t *testing.T) {
	t.Parallel()
	cluster(t)
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p_test.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(parallelViolations(fset, f), "; ")
	want := "p_test.go:15:8: TestParallelLeak calls goleak.VerifyNone; " +
		"p_test.go:20:34: TestParallelSubtestStarves calls starveCPU; " +
		"p_test.go:26:3: TestSubtestParallelHarness calls newHarnessWith; " +
		"p_test.go:36:2: TestParallelHelperLeak calls cluster, which calls goleak.VerifyNone"
	if got != want {
		t.Errorf("violations\n%s\nwant\n%s", got, want)
	}
}

// moduleParallelViolations returns the violations of the rule in the
// test files of the module at root, package by package, leaving out
// nested modules and testdata.
func moduleParallelViolations(root string) ([]string, error) {
	fset := token.NewFileSet()
	files := map[string][]*ast.File{} // by directory
	err := filepath.WalkDir(root, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if file != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(file, "go.mod")); err == nil && file != root {
				return filepath.SkipDir // a module of its own
			}
			return nil
		}
		if !strings.HasSuffix(file, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files[filepath.Dir(file)] = append(files[filepath.Dir(file)], f)
		return nil
	})
	var bad []string
	for _, fs := range files {
		bad = append(bad, parallelViolations(fset, fs...)...)
	}
	sort.Strings(bad)
	return bad, err
}

// parallelViolations returns, for each function of the files (a
// package's) that calls Parallel anywhere in its body (its subtests'
// function literals included), the calls it makes there of notInParallel
// or of a function of the files that makes one, directly or through
// others (a helper that checks leaks). Methods are not followed.
func parallelViolations(fset *token.FileSet, files ...*ast.File) []string {
	var fns []*ast.FuncDecl
	for _, f := range files {
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Body != nil {
				fns = append(fns, fn)
			}
		}
	}
	forbidden := map[string]string{} // a call's name: the call of notInParallel it comes to
	for name := range notInParallel {
		forbidden[name] = name
	}
	for grew := true; grew; {
		grew = false
		for _, fn := range fns {
			name := fn.Name.Name
			if fn.Recv != nil || forbidden[name] != "" {
				continue
			}
			for _, call := range calls(fn.Body) {
				if why := forbidden[callName(call.Fun)]; why != "" {
					forbidden[name], grew = why, true
					break
				}
			}
		}
	}
	var bad []string
	for _, fn := range fns {
		cs := calls(fn.Body)
		if !slices.ContainsFunc(cs, isParallel) {
			continue
		}
		for _, call := range cs {
			name := callName(call.Fun)
			switch why := forbidden[name]; {
			case why == "":
			case why == name:
				bad = append(bad, fset.Position(call.Pos()).String()+": "+fn.Name.Name+" calls "+name)
			case why != "":
				bad = append(bad, fset.Position(call.Pos()).String()+": "+fn.Name.Name+" calls "+name+", which calls "+why)
			}
		}
	}
	return bad
}

// calls returns the calls in body, its function literals' included.
func calls(body *ast.BlockStmt) []*ast.CallExpr {
	var cs []*ast.CallExpr
	ast.Inspect(body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			cs = append(cs, call)
		}
		return true
	})
	return cs
}

// isParallel reports whether call is a t.Parallel().
func isParallel(call *ast.CallExpr) bool {
	return strings.HasSuffix(callName(call.Fun), ".Parallel") && len(call.Args) == 0
}

// callName is the called function's name as written: "f", "pkg.F" or
// "x.M"; "" for anything else.
func callName(fun ast.Expr) string {
	switch e := fun.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok {
			return x.Name + "." + e.Sel.Name
		}
	}
	return ""
}
