package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// handOver is how long ossd takes at most to leave on SIGTERM: 10 s of
// hand-over, 5 s of leave, 2 s for the admin interface (oss.Node.Close,
// cmd/ossd/run.go). A stop timeout shorter than that kills it half-way.
const handOver = 17 * time.Second

var (
	buildOnce sync.Once
	ossdPath  string
	buildErr  error
)

// ossd builds cmd/ossd once into a directory that outlives the tests
// that use it, and returns the binary's path.
func ossd(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "oss-deploy-test-")
		if err != nil {
			buildErr = err
			return
		}
		ossdPath = filepath.Join(dir, "ossd")
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			goBin = "go"
		}
		out, err := exec.Command(goBin, "build", "-o", ossdPath, "github.com/objectsharing/oss/cmd/ossd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/ossd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return ossdPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if ossdPath != "" {
		os.RemoveAll(filepath.Dir(ossdPath))
	}
	os.Exit(code)
}

var flagLine = regexp.MustCompile(`^\s+-([a-z][a-z0-9-]*)(?:\s|$)`)

// flags returns the flags "ossd CMD... -h" lists, by name.
func flags(t *testing.T, cmd ...string) map[string]bool {
	t.Helper()
	c := exec.Command(ossd(t), append(cmd, "-h")...)
	c.Env = cleanEnv()
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("ossd %s -h: %v\n%s", strings.Join(cmd, " "), err, out)
	}
	fs := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if m := flagLine.FindStringSubmatch(l); m != nil {
			fs[m[1]] = true
		}
	}
	if len(fs) < 3 {
		t.Fatalf("ossd %s -h lists %d flags; the output changed?\n%s", strings.Join(cmd, " "), len(fs), out)
	}
	return fs
}

// cleanEnv is the environment without OSS_* variables, which would set
// ossd's flags.
func cleanEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "OSS_") })
}

// envFlag returns the flag an OSS_* variable sets: OSS_DATA_DIR, data-dir.
func envFlag(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "OSS_")
	if !ok {
		return "", false
	}
	return strings.ToLower(strings.ReplaceAll(rest, "_", "-")), true
}

// argFlags returns the flags of a command line and their values ("" for
// a boolean flag without =value).
func argFlags(args []string) map[string]string {
	fs := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name := strings.TrimLeft(a, "-")
		if n, v, ok := strings.Cut(name, "="); ok {
			fs[n] = v
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			fs[name] = args[i+1]
			i++
		} else {
			fs[name] = ""
		}
	}
	return fs
}

// The compose file, parsed.
type composeFile struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image           string         `yaml:"image"`
	Build           map[string]any `yaml:"build"`
	Entrypoint      []string       `yaml:"entrypoint"`
	Command         []string       `yaml:"command"`
	Environment     map[string]string
	Volumes         []string             `yaml:"volumes"`
	Ports           []yaml.Node          `yaml:"ports"`
	DependsOn       map[string]dependsOn `yaml:"depends_on"`
	StopSignal      string               `yaml:"stop_signal"`
	StopGracePeriod string               `yaml:"stop_grace_period"`
	Healthcheck     *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

type dependsOn struct {
	Condition string `yaml:"condition"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("compose", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(false)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

var nodes = []string{"n1", "n2", "n3"}

func TestCompose(t *testing.T) {
	c := readCompose(t)
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"init", "n1", "n2", "n3"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	run := flags(t, "run")

	// init makes the CA and a certificate for every node.
	init := c.Services["init"]
	if !slices.Equal(init.Entrypoint, []string{"oss-init-certs"}) {
		t.Errorf("init's entrypoint %q, want oss-init-certs", init.Entrypoint)
	}
	if !slices.Equal(init.Command, nodes) {
		t.Errorf("init makes certificates for %q, want %q", init.Command, nodes)
	}

	n1Listen := ""
	dataVolumes := map[string]string{}
	for _, name := range nodes {
		s := c.Services[name]
		t.Run(name, func(t *testing.T) {
			if s.Image == "" || s.Image != init.Image {
				t.Errorf("image %q, want init's %q", s.Image, init.Image)
			}
			if s.Build["dockerfile"] != "deploy/compose/Dockerfile" || s.Build["context"] != "../.." {
				t.Errorf("build %v, want the repository's root with deploy/compose/Dockerfile", s.Build)
			}
			if len(s.Command) == 0 || s.Command[0] != "run" {
				t.Fatalf("command %q, want ossd run ...", s.Command)
			}
			fs := argFlags(s.Command[1:])
			for f := range fs {
				if !run[f] {
					t.Errorf("--%s: ossd run has no such flag", f)
				}
			}
			for k := range s.Environment {
				if f, ok := envFlag(k); ok && !run[f] {
					t.Errorf("environment %s: ossd run has no flag --%s", k, f)
				}
			}
			for _, f := range []string{"name", "listen", "advertise", "http", "certs", "data-dir"} {
				if fs[f] == "" {
					t.Errorf("no --%s", f)
				}
			}
			if fs["name"] != name {
				t.Errorf("--name %q, want the service's name %q (its certificate's)", fs["name"], name)
			}
			if _, ok := fs["http-insecure"]; ok {
				t.Error("--http-insecure: the admin interface would be plain HTTP without client certificates")
			}
			if _, ok := s.Environment["OSS_HTTP_INSECURE"]; ok {
				t.Error("OSS_HTTP_INSECURE: the admin interface would be plain HTTP without client certificates")
			}
			host, port, err := net.SplitHostPort(fs["advertise"])
			if err != nil || host != name {
				t.Errorf("--advertise %q, want %s:PORT (%v)", fs["advertise"], name, err)
			}
			if _, lport, _ := net.SplitHostPort(fs["listen"]); lport != port {
				t.Errorf("--advertise %q and --listen %q: different ports", fs["advertise"], fs["listen"])
			}
			if name == "n1" {
				n1Listen = fs["listen"]
				if _, ok := fs["join"]; ok {
					t.Errorf("n1 has --join %q: the first node bootstraps the cluster", fs["join"])
				}
			} else {
				_, n1Port, _ := net.SplitHostPort(n1Listen)
				if want := net.JoinHostPort("n1", n1Port); fs["join"] != want {
					t.Errorf("--join %q, want %q", fs["join"], want)
				}
				if s.DependsOn["n1"].Condition == "" {
					t.Error("does not wait for n1, which it joins")
				}
			}
			if d := s.DependsOn["init"].Condition; d != "service_completed_successfully" {
				t.Errorf("depends on init with condition %q, want service_completed_successfully", d)
			}

			// Volumes: the certificates read-only at --certs, its own data
			// volume at --data-dir, every one declared.
			mounts := map[string]string{} // target: source[:mode]
			for _, v := range s.Volumes {
				parts := strings.Split(v, ":")
				if len(parts) < 2 {
					t.Errorf("volume %q: want SOURCE:TARGET", v)
					continue
				}
				if _, ok := c.Volumes[parts[0]]; !ok {
					t.Errorf("volume %q is not declared under volumes:", parts[0])
				}
				mounts[parts[1]] = strings.Join(append([]string{parts[0]}, parts[2:]...), ":")
			}
			if mounts[fs["certs"]] != "certs:ro" {
				t.Errorf("--certs %s is mounted from %q, want the certs volume read-only", fs["certs"], mounts[fs["certs"]])
			}
			data := mounts[fs["data-dir"]]
			if data == "" || strings.Contains(data, ":") {
				t.Errorf("--data-dir %s is mounted from %q, want a volume of its own, writable", fs["data-dir"], data)
			} else if other, ok := dataVolumes[data]; ok {
				t.Errorf("data volume %q shared with %s", data, other)
			}
			dataVolumes[data] = name
			for _, v := range s.Volumes {
				if strings.HasPrefix(v, "ca:") {
					t.Errorf("mounts the CA's volume (%q): its key is for init only", v)
				}
			}

			// Only n1 publishes its admin port, and only on the host's
			// loopback.
			ports := publishedPorts(t, s.Ports)
			if name != "n1" && len(ports) > 0 {
				t.Errorf("publishes %v: only n1's admin interface is published", ports)
			}
			if name == "n1" {
				_, httpPort, _ := net.SplitHostPort(fs["http"])
				if len(ports) != 1 || ports[0].target != httpPort {
					t.Errorf("publishes %v, want the admin port %s only", ports, httpPort)
				}
			}
			for _, p := range ports {
				if ip := net.ParseIP(p.hostIP); ip == nil || !ip.IsLoopback() {
					t.Errorf("publishes port %s on %q: want 127.0.0.1 only", p.target, p.hostIP)
				}
			}

			if s.StopSignal != "" && s.StopSignal != "SIGTERM" {
				t.Errorf("stop_signal %s: ossd hands over and leaves on SIGTERM", s.StopSignal)
			}
			if d, err := time.ParseDuration(s.StopGracePeriod); err != nil || d < handOver {
				t.Errorf("stop_grace_period %q: want at least %v for the hand-over (%v)", s.StopGracePeriod, handOver, err)
			}
			if hc := s.Healthcheck; hc != nil && len(hc.Test) > 2 && hc.Test[1] == "ossd" {
				cmd := hc.Test[2]
				for f := range argFlags(hc.Test[3:]) {
					if !flags(t, cmd)[f] {
						t.Errorf("healthcheck: ossd %s has no flag --%s", cmd, f)
					}
				}
			}
		})
	}
	if c.Services["n1"].Healthcheck == nil {
		t.Error("n1 has no healthcheck: n2 and n3 would join before it listens")
	}
}

type port struct{ hostIP, published, target string }

// publishedPorts reads ports: in the short ("127.0.0.1:7480:7480") and the
// long syntax.
func publishedPorts(t *testing.T, ns []yaml.Node) []port {
	var ps []port
	for _, n := range ns {
		switch n.Kind {
		case yaml.ScalarNode:
			s, _, _ := strings.Cut(n.Value, "/")
			parts := strings.Split(s, ":")
			var p port
			switch len(parts) {
			case 1:
				p.target = parts[0]
			case 2:
				p.published, p.target = parts[0], parts[1]
			default: // IP:published:target; an IPv6 address has colons
				p.target = parts[len(parts)-1]
				p.published = parts[len(parts)-2]
				p.hostIP = strings.Trim(strings.Join(parts[:len(parts)-2], ":"), "[]")
			}
			ps = append(ps, p)
		case yaml.MappingNode:
			var m struct {
				HostIP    string `yaml:"host_ip"`
				Published any    `yaml:"published"`
				Target    any    `yaml:"target"`
			}
			if err := n.Decode(&m); err != nil {
				t.Errorf("ports: %v", err)
				continue
			}
			ps = append(ps, port{m.HostIP, fmt.Sprint(m.Published), fmt.Sprint(m.Target)})
		default:
			t.Errorf("ports: an entry of kind %v", n.Kind)
		}
	}
	return ps
}

// The image builds ossd from ./cmd/ossd with Go 1.26 and runs it as a
// user other than root, with the init script compose's init runs.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("compose", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	user := ""
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, f[1])
		case "USER":
			user = f[1]
		case "COPY":
			src := f[len(f)-2]
			if strings.HasPrefix(src, "deploy/") {
				if _, err := os.Stat(filepath.Join("..", src)); err != nil {
					t.Errorf("COPY %s: %v", src, err)
				}
			}
		}
	}
	if len(froms) < 2 || froms[0] != "golang:1.26" {
		t.Errorf("FROM %v: want a golang:1.26 build stage and a runtime stage", froms)
	}
	if !strings.Contains(string(b), "./cmd/ossd") {
		t.Error("does not build ./cmd/ossd")
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("USER %q: want a user other than root", user)
	}
	if !strings.Contains(string(b), "/usr/local/bin/oss-init-certs") {
		t.Error("the image lacks oss-init-certs, compose's init")
	}
}

// The init step makes the CA and the certificates once: a second run
// keeps them, and the CA's key never reaches the nodes' volume.
func TestInitCerts(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatalf("no sh to run init-certs.sh: %v", err)
	}
	script, err := filepath.Abs(filepath.Join("compose", "init-certs.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca, certs := filepath.Join(dir, "ca"), filepath.Join(dir, "certs")
	env := append(cleanEnv(), "OSS_CA_DIR="+ca, "OSS_CERTS_DIR="+certs,
		"PATH="+filepath.Dir(ossd(t))+string(os.PathListSeparator)+os.Getenv("PATH"))
	initRun := func() {
		c := exec.Command("sh", script, "n1", "n2", "n3")
		c.Env = env
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("init-certs.sh: %v\n%s", err, out)
		}
	}
	initRun()
	want := []string{"admin.crt", "admin.key", "ca.crt", "n1.crt", "n1.key", "n2.crt", "n2.key", "n3.crt", "n3.key"}
	got := listDir(t, certs)
	if !slices.Equal(got, want) {
		t.Fatalf("certs: %v, want %v (no ca.key)", got, want)
	}
	before := map[string][]byte{}
	for _, f := range want {
		b, err := os.ReadFile(filepath.Join(certs, f))
		if err != nil {
			t.Fatal(err)
		}
		before[f] = b
		if fi, _ := os.Stat(filepath.Join(certs, f)); strings.HasSuffix(f, ".key") && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	initRun()
	for _, f := range want {
		if b, _ := os.ReadFile(filepath.Join(certs, f)); !bytes.Equal(b, before[f]) {
			t.Errorf("%s changed on a second run", f)
		}
	}
	if got := listDir(t, certs); !slices.Equal(got, want) {
		t.Errorf("certs after a second run: %v, want %v", got, want)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// "docker compose config" checks the file as compose reads it, where
// compose and a daemon are there; without, the parse above stands alone.
func TestComposeConfig(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Log("docker is not installed: compose.yaml is checked by parsing only")
		return
	}
	if out, err := exec.Command(docker, "compose", "version").CombinedOutput(); err != nil {
		t.Logf("docker compose is not available (%v: %s): compose.yaml is checked by parsing only", err, bytes.TrimSpace(out))
		return
	}
	out, err := exec.Command(docker, "compose", "-f", filepath.Join("compose", "compose.yaml"), "config", "--quiet").CombinedOutput()
	if err != nil {
		t.Errorf("docker compose config: %v\n%s", err, out)
	}
}

// unit is a systemd unit file: section, key, values in order.
type unit map[string]map[string][]string

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			section = l[1 : len(l)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || section == "" {
				t.Fatalf("%s: line %q", path, l)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u unit) get(section, key string) (string, bool) {
	vs, ok := u[section][key]
	if !ok {
		return "", false
	}
	return vs[len(vs)-1], true
}

// readEnv reads an EnvironmentFile: KEY=VALUE lines, # comments.
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: line %q", path, l)
		}
		env[k] = v
	}
	return env
}

// The systemd unit: its keys, the OSS_* variables it and the example
// environment file set, and systemd-analyze verify where it is installed.
func TestSystemdUnit(t *testing.T) {
	path := filepath.Join("systemd", "ossd@.service")
	u := readUnit(t, path)
	run := flags(t, "run")

	want := map[string]string{
		"User":                    "ossd",
		"EnvironmentFile":         "/etc/ossd/%i.env",
		"StateDirectory":          "ossd/%i",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"ReadWritePaths":          "%S/ossd/%i",
		"CapabilityBoundingSet":   "",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"KillSignal":              "SIGTERM",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
	}
	for k, v := range want {
		if got, ok := u.get("Service", k); !ok || got != v {
			t.Errorf("[Service] %s=%q (set: %v), want %q", k, got, ok, v)
		}
	}
	if v, ok := u.get("Service", "LimitNOFILE"); !ok {
		t.Error("no LimitNOFILE")
	} else if n, err := strconv.Atoi(v); err != nil || n < 4096 {
		t.Errorf("LimitNOFILE=%s: want a number of at least 4096", v)
	}
	if v, _ := u.get("Service", "TimeoutStopSec"); true {
		d, err := time.ParseDuration(v + "s")
		if err != nil || d < handOver {
			t.Errorf("TimeoutStopSec=%q: want at least %v for the hand-over", v, handOver)
		}
	}
	exe, _ := u.get("Service", "ExecStart")
	args := strings.Fields(exe)
	if len(args) < 2 || args[1] != "run" {
		t.Fatalf("ExecStart=%q, want ossd run", exe)
	}
	for f := range argFlags(args[2:]) {
		if !run[f] {
			t.Errorf("ExecStart: ossd run has no flag --%s", f)
		}
	}
	// Environment= names the node after the instance; it and the example
	// file set only flags that exist.
	unitEnv := map[string]string{}
	for _, kv := range u["Service"]["Environment"] {
		k, v, _ := strings.Cut(kv, "=")
		unitEnv[k] = v
	}
	if unitEnv["OSS_NAME"] != "%i" {
		t.Errorf("Environment=OSS_NAME=%q, want the instance, %%i", unitEnv["OSS_NAME"])
	}
	exampleEnv := readEnv(t, filepath.Join("systemd", "ossd.env.example"))
	for src, env := range map[string]map[string]string{"ossd@.service": unitEnv, "ossd.env.example": exampleEnv} {
		for k := range env {
			f, ok := envFlag(k)
			if !ok {
				t.Errorf("%s: %s is not an OSS_* variable", src, k)
			} else if !run[f] {
				t.Errorf("%s: %s: ossd run has no flag --%s", src, k, f)
			}
		}
	}
	for _, k := range []string{"OSS_LISTEN", "OSS_ADVERTISE", "OSS_HTTP"} {
		if exampleEnv[k] == "" {
			t.Errorf("ossd.env.example: no %s", k)
		}
	}
	if _, ok := exampleEnv["OSS_HTTP_INSECURE"]; ok {
		t.Error("ossd.env.example: OSS_HTTP_INSECURE")
	}

	verify(t, path)
}

// verify runs systemd-analyze verify on the unit instantiated as
// ossd@n1.service, its ExecStart pointing at a built ossd (verify checks
// that the executable exists). Any complaint fails the test: verify
// exits 0 on unknown keys and values it ignores.
func verify(t *testing.T, path string) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Logf("systemd-analyze is not installed, so the unit is not verified by systemd: only its keys are checked")
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "ExecStart=/usr/local/bin/ossd ", "ExecStart="+ossd(t)+" ")
	if text == string(b) {
		t.Fatal("ExecStart does not run /usr/local/bin/ossd: the test cannot point it at a built ossd")
	}
	dir := t.TempDir()
	inst := filepath.Join(dir, "ossd@n1.service")
	if err := os.WriteFile(inst, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", "--man=no", inst).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify ossd@n1.service: %v\n%s", err, out)
	}
}
