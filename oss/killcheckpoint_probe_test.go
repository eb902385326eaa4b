package oss_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
)

// A process killed (SIGKILL) while it checkpoints large objects to a
// striped store on the operating system's files, again and again: each
// restart must start, and hold, for every object, at least the last
// acknowledged commit that wrote it, and no value that was never written.
//
// The test runs itself as the node's process (killProbeChild), which
// commits batches of objects and prints "ack N" once commit N returned.

const (
	killObjects  = 1200 // the objects, written in turn
	killPerTx    = 40   // objects a commit writes
	killValueLen = 6 << 10
)

type killVal struct {
	C   int64 // the commit that wrote it
	Pad []byte
}

func killID(i int) uuid.UUID {
	var id uuid.UUID
	binary.BigEndian.PutUint64(id[8:], uint64(i)+1)
	id[6] = 0x40 // version 4
	return id
}

func killPad(c int64) []byte {
	b := make([]byte, killValueLen)
	for i := range b {
		b[i] = byte(c) ^ byte(i)
	}
	return b
}

// killWrites returns the objects commit c writes.
func killWrites(c int64) []int {
	var is []int
	for j := range killPerTx {
		is = append(is, int((c*killPerTx+int64(j))%killObjects))
	}
	return is
}

func TestProbeKilledDuringStripedCheckpoints(t *testing.T) {
	t.Parallel()
	if os.Getenv("OSS_KILL_PROBE_DIR") != "" {
		killProbeChild()
		return
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	acked := make([]int64, killObjects) // the last acknowledged commit that wrote each object, -1: none
	for i := range acked {
		acked[i] = -1
	}
	var next int64 // the first commit of the next run
	for run := range 8 {
		exp := filepath.Join(dir, fmt.Sprintf("expect-%d.json", run))
		b, _ := json.Marshal(acked)
		if err := os.WriteFile(exp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		last := runKillChild(t, dir, exp, next, run, rng.IntN(1500))
		for c := next; c <= last; c++ {
			for _, i := range killWrites(c) {
				acked[i] = c
			}
		}
		next += 1 << 20 // unacknowledged commits of this run may have applied: numbers never repeat
	}
	b, _ := json.Marshal(acked)
	exp := filepath.Join(dir, "expect-final.json")
	os.WriteFile(exp, b, 0o600)
	runKillChild(t, dir, exp, -1, -1, 0)
}

// runKillChild runs the node's process until it is ready and has
// acknowledged commits for about ms milliseconds more (first -1: only
// check, then close), kills it, and returns the last commit it
// acknowledged (first-1 if none).
func runKillChild(t *testing.T, dir, expect string, first int64, run, ms int) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestProbeKilledDuringStripedCheckpoints$")
	cmd.Env = append(os.Environ(), "OSS_KILL_PROBE_DIR="+dir, "OSS_KILL_PROBE_EXPECT="+expect, fmt.Sprint("OSS_KILL_PROBE_FIRST=", first))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	last := first - 1
	var killAt <-chan time.Time
	var transcript []string
	for line := range lines {
		transcript = append(transcript, line)
		switch {
		case line == "ready" && first < 0:
		case line == "ready":
			killAt = time.After(time.Duration(ms) * time.Millisecond)
		case strings.HasPrefix(line, "ack "):
			last, _ = strconv.ParseInt(line[4:], 10, 64)
			select {
			case <-killAt:
				cmd.Process.Signal(syscall.SIGKILL)
				killAt = nil
			default:
			}
		}
	}
	werr := cmd.Wait()
	if killAt != nil || !strings.Contains(strings.Join(transcript, "\n"), "ready") {
		t.Fatalf("run %d: the node's process ended by itself (%v):\n%s\n%s", run, werr, strings.Join(transcript[max(0, len(transcript)-20):], "\n"), stderr.String())
	}
	if first < 0 && werr != nil {
		t.Fatalf("the last run: %v\n%s\n%s", werr, strings.Join(transcript, "\n"), stderr.String())
	}
	t.Logf("run %d: acknowledged commits %d to %d, killed after %d ms", run, first, last, ms)
	return last
}

// killProbeChild is the node's process: it starts the node on the stripes,
// checks every object against what was acknowledged, prints "ready", and
// commits until it is killed (or, told to only check, closes the node).
func killProbeChild() {
	dir := os.Getenv("OSS_KILL_PROBE_DIR")
	first, _ := strconv.ParseInt(os.Getenv("OSS_KILL_PROBE_FIRST"), 10, 64)
	fail := func(format string, a ...any) {
		fmt.Printf("fail "+format+"\n", a...)
		os.Exit(3)
	}
	b, err := os.ReadFile(os.Getenv("OSS_KILL_PROBE_EXPECT"))
	var acked []int64
	if err == nil {
		err = json.Unmarshal(b, &acked)
	}
	if err != nil {
		fail("%v", err)
	}
	ctx := context.Background()
	stripes := []string{filepath.Join(dir, "s0"), filepath.Join(dir, "s1"), filepath.Join(dir, "s2")}
	n, err := oss.Start(ctx, &oss.Config{Name: "solo", DataDir: filepath.Join(dir, "data"), StripeDirs: stripes, CheckpointEvery: 24, Logger: quietLogger()})
	if err != nil {
		fail("start: %v", err)
	}
	h, err := n.CreateHeapIfNotExists(ctx, "bank", nil)
	if err != nil {
		fail("heap: %v", err)
	}
	err = h.View(ctx, func(tx *oss.Tx) error {
		for i, c := range acked {
			v, err := oss.Get[killVal](tx, killID(i))
			if c < 0 {
				continue
			}
			if err != nil {
				return fmt.Errorf("object %d, last acknowledged by commit %d: %w", i, c, err)
			}
			if v.C < c || !bytes.Equal(v.Pad, killPad(v.C)) {
				return fmt.Errorf("object %d holds commit %d (its value intact: %v), last acknowledged by commit %d", i, v.C, bytes.Equal(v.Pad, killPad(v.C)), c)
			}
		}
		return nil
	}, &oss.ViewOptions{Fresh: true})
	if err != nil {
		fail("check: %v", err)
	}
	fmt.Println("ready")
	if first < 0 {
		if err := n.Close(ctx); err != nil {
			fail("close: %v", err)
		}
		os.Exit(0)
	}
	for c := first; ; c++ {
		err := h.Update(ctx, func(tx *oss.Tx) error {
			for _, i := range killWrites(c) {
				if err := oss.Put(tx, killID(i), killVal{C: c, Pad: killPad(c)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			fail("commit %d: %v", c, err)
		}
		fmt.Println("ack", c)
	}
}
