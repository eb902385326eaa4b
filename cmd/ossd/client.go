package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// client talks to a daemon's admin API.
type client struct {
	base string
	hc   *http.Client
}

func clientFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	addr := fs.String("http", "127.0.0.1:7480", "address of the daemon's HTTP admin API")
	return fs, addr
}

func newClient(addr string) *client {
	return &client{base: "http://" + addr, hc: &http.Client{Timeout: 15 * time.Second}}
}

// do sends a request and decodes a JSON answer into out; an error status
// becomes an error carrying the daemon's message.
func (c *client) do(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("no daemon answers at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func status(args []string) error {
	fs, addr := clientFlags("ossd status")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	var st oss.ClusterStatus
	if err := newClient(*addr).do("GET", "/v1/status", nil, &st); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(os.Stdout, &st)
	return nil
}

func printStatus(w io.Writer, st *oss.ClusterStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "MEMBER\tADDRESS\tROLE\tLEADS\n")
	for _, m := range st.Members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, m.Addr, m.Role, strings.Join(m.Leads, ","))
	}
	tw.Flush()
	if len(st.Unreachable) > 0 {
		fmt.Fprintf(w, "unreachable: %s\n", strings.Join(st.Unreachable, ", "))
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "HEAP\tREPLICAS\tLEADER\tVOTERS\tLEARNERS\tAPPLIED\n")
	for _, h := range st.Heaps {
		var applied []string
		for _, node := range slices.Sorted(mapKeys(h.ReplicaApplied)) {
			applied = append(applied, fmt.Sprintf("%s=%d", node, h.ReplicaApplied[node]))
		}
		voters := strings.Join(h.Voters, ",")
		if h.Joint {
			voters += " (joint)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", h.Name, h.Replicas, orDefault(h.Leader, "-"), voters,
			orDefault(strings.Join(h.Learners, ","), "-"), strings.Join(applied, " "))
	}
	tw.Flush()
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func heaps(args []string) error {
	fs, addr := clientFlags("ossd heaps")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	c := newClient(*addr)
	switch {
	case len(pos) == 0:
		var hs []oss.HeapInfo
		if err := c.do("GET", "/v1/heaps", nil, &hs); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "HEAP\tREPLICAS\n")
		for _, h := range hs {
			fmt.Fprintf(tw, "%s\t%d\n", h.Name, h.Replicas)
		}
		return tw.Flush()
	case len(pos) == 2 && pos[0] == "create":
		return c.do("PUT", "/v1/heaps/"+url.PathEscape(pos[1]), nil, nil)
	case len(pos) == 2 && pos[0] == "drop":
		return c.do("DELETE", "/v1/heaps/"+url.PathEscape(pos[1]), nil, nil)
	}
	return errors.New("heaps: want no argument, \"create NAME\" or \"drop NAME\"")
}

func get(args []string) error {
	fs, addr := clientFlags("ossd get")
	fresh := fs.Bool("fresh", false, "read linearizably: wait until the node has applied every commit acknowledged before")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return errors.New("get: want HEAP and a root name or an object ID")
	}
	path := "/v1/heaps/" + url.PathEscape(pos[0])
	if _, err := uuid.Parse(pos[1]); err == nil {
		path += "/objects/" + pos[1]
	} else {
		path += "/roots/" + url.PathEscape(pos[1])
	}
	if *fresh {
		path += "?fresh=1"
	}
	var out json.RawMessage
	if err := newClient(*addr).do("GET", path, nil, &out); err != nil {
		return err
	}
	_, err = fmt.Printf("%s\n", out)
	return err
}

func put(args []string) error {
	fs, addr := clientFlags("ossd put")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 3 {
		return errors.New("put: want HEAP, ROOT and a JSON value")
	}
	var v json.RawMessage
	if err := json.Unmarshal([]byte(pos[2]), &v); err != nil {
		return fmt.Errorf("put: the value is not JSON: %w", err)
	}
	var out json.RawMessage
	if err := newClient(*addr).do("PUT", "/v1/heaps/"+url.PathEscape(pos[0])+"/roots/"+url.PathEscape(pos[1]), v, &out); err != nil {
		return err
	}
	_, err = fmt.Printf("%s\n", out)
	return err
}
