package layout

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/objectsharing/oss"

func goCmd(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("go %v: %v", args, err)
	}
	return string(out)
}

// rel returns the package path inside the module, or "" for other packages.
func rel(pkg string) (string, bool) {
	if pkg == module {
		return "", true
	}
	if p, ok := strings.CutPrefix(pkg, module+"/"); ok {
		return p, true
	}
	return "", false
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// violation returns why pkg may not import dep, or "" if it may.
func violation(pkg, dep string) string {
	p, _ := rel(pkg)
	d, ours := rel(dep)
	if strings.HasPrefix(dep, "github.com/hajimehoshi/ebiten/") && under(p, "wissenheim") && p != "wissenheim" {
		return "only the window (package wissenheim) imports Ebiten: the game's logic is tested without a display"
	}
	if !ours || p == d {
		return ""
	}
	switch {
	case under(p, "consistency"):
		return "consistency imports nothing of ours"
	case under(p, "engine"):
		// The heap's runtime as a deterministic core: no I/O of ours.
		if d == "consistency" || d == "internal/codec" {
			return ""
		}
		return "engine imports only consistency and internal/codec of ours"
	case (under(p, "transport") || under(p, "persist") || under(p, "internal")) && under(d, "oss"):
		return "nothing below oss imports oss"
	case (under(p, "transport") && (under(d, "persist") || under(d, "consistency"))) ||
		(under(p, "persist") && (under(d, "transport") || under(d, "consistency"))):
		return "transport and persist are independent of each other and of consistency"
	case under(p, "wissenheim"):
		// The world is an application of the public API alone: oss and
		// its certificates, never oss's internals or test helpers
		// (oss/ossdtest), whose shortcuts a client could not take.
		if d == "oss" || d == "oss/pki" || under(d, "wissenheim") {
			return ""
		}
		return "wissenheim imports only oss and oss/pki"
	case under(p, "demo") || under(p, "cmd"):
		top := strings.SplitN(p, "/", 2)[0]
		if under(d, "oss") || under(d, top) {
			return ""
		}
		return "applications import only oss"
	}
	return ""
}

// productionViolation returns why a non-test file of pkg may not import
// dep, or "" if it may: the test harnesses (the checker, the simulation)
// are for tests, and no production code depends on them.
func productionViolation(pkg, dep string) string {
	p, _ := rel(pkg)
	d, ours := rel(dep)
	if ours && under(d, "internal/testkit") && !under(p, "internal/testkit") {
		return "only tests import the test harnesses (internal/testkit)"
	}
	return ""
}

// TestLayering checks every package's direct imports, tests included;
// rules on direct imports hold for the transitive ones too, since each
// package on the path is checked.
func TestLayering(t *testing.T) {
	out := goCmd(t, "list", "-f", `{{.ImportPath}} {{join .Imports " "}} | {{join .TestImports " "}} {{join .XTestImports " "}}`, "./...")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 {
		t.Fatalf("too few packages listed:\n%s", out)
	}
	for _, line := range lines {
		f := strings.Fields(line)
		test := false
		for _, dep := range f[1:] {
			if dep == "|" {
				test = true
				continue
			}
			why := violation(f[0], dep)
			if why == "" && !test {
				why = productionViolation(f[0], dep)
			}
			if why != "" {
				t.Errorf("%s imports %s: %s", f[0], dep, why)
			}
		}
	}
}

func TestLayeringRules(t *testing.T) {
	m := module + "/"
	for _, c := range []struct {
		pkg, dep string
		bad      bool
	}{
		{m + "consistency", "go.etcd.io/raft/v3", false},
		{m + "consistency", m + "internal/codec", true},
		{m + "consistency", m + "oss", true},
		{m + "transport", m + "oss", true},
		{m + "transport", m + "internal/codec", false},
		{m + "transport/gossip", m + "oss", true},
		{m + "transport/gossip", m + "transport", false},
		{m + "oss", m + "transport/gossip", false},
		{m + "persist", m + "transport", true},
		{m + "internal/codec", m + "oss", true},
		{m + "oss", m + "consistency", false},
		{m + "engine", m + "consistency", false},
		{m + "engine", m + "internal/codec", false},
		{m + "engine", m + "oss", true},
		{m + "engine", m + "transport", true},
		{m + "engine", m + "persist", true},
		{m + "oss", m + "engine", false},
		{m + "internal/testkit/sim", m + "engine", false},
		{m + "internal/testkit/sim", m + "oss", true},
		{m + "internal/testkit/sim", m + "internal/testkit/check", false},
		{m + "internal/testkit/sim", m + "internal/codec", false},
		{m + "oss", m + "internal/testkit/sim", true},
		{m + "engine", m + "oss/pki", true},
		{m + "oss", m + "internal/testkit/check", true},
		{m + "engine", m + "internal/testkit/sim", true},
		{m + "transport/transporttest", m + "internal/testkit/check", true},
		{m + "demo", m + "oss", false},
		{m + "demo", m + "consistency", true},
		{m + "cmd/ossd", m + "persist", true},
		{m + "wissenheim", m + "wissenheim/scene", false},
		{m + "wissenheim/scene", m + "internal/codec", true},
		{m + "wissenheim/bots", m + "wissenheim/scene", false},
		{m + "wissenheim/bench", m + "wissenheim/internal/cluster", false},
		{m + "wissenheim/internal/cluster", m + "oss/pki", false},
		{m + "wissenheim/bots", m + "oss/ossdtest", true},
		{m + "wissenheim/scene", m + "oss/admin", true},
		{m + "wissenheim/scene", m + "internal/pki", true},
		{m + "wissenheim", "github.com/hajimehoshi/ebiten/v2", false},
		{m + "wissenheim/client", "github.com/hajimehoshi/ebiten/v2", true},
		{m + "wissenheim/client", m + "wissenheim/scene", false},
	} {
		if got := violation(c.pkg, c.dep) != "" || productionViolation(c.pkg, c.dep) != ""; got != c.bad {
			t.Errorf("%s -> %s: violation %v, want %v", c.pkg, c.dep, got, c.bad)
		}
	}
}

func TestPackageDocs(t *testing.T) {
	out := goCmd(t, "list", "-f", "{{.ImportPath}}\t{{.Doc}}", "./...")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		pkg, doc, _ := strings.Cut(line, "\t")
		if strings.TrimSpace(doc) == "" {
			t.Errorf("%s has no package doc comment", pkg)
		}
	}
}
