package check

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// RegisterOp is one operation on a single-object register: a write of
// Value, or a Fresh read that returned Value (0: absent).
type RegisterOp struct {
	Process int
	Key     int
	Write   bool
	Value   int
	// Unknown marks a write whose outcome the client did not learn: it may
	// take effect at any time after Start, or never.
	Unknown    bool
	Start, End int64
}

func (o RegisterOp) String() string {
	end := fmt.Sprint(o.End)
	if o.Unknown {
		end = "?"
	}
	if o.Write {
		return fmt.Sprintf("p%d write(%d, %d) [%d, %s]", o.Process, o.Key, o.Value, o.Start, end)
	}
	return fmt.Sprintf("p%d read(%d) → %d [%d, %s]", o.Process, o.Key, o.Value, o.Start, end)
}

type regInput struct {
	write bool
	value int
}

var registerModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[int][]porcupine.Operation{}
		var keys []int
		for _, op := range h {
			k := op.Metadata.(RegisterOp).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		slices.Sort(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return 0 },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.write {
			return true, in.value
		}
		return output.(int) == state.(int), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.write {
			return fmt.Sprintf("write(%d)", in.value)
		}
		return fmt.Sprintf("read() → %d", output.(int))
	},
}

// CheckRegisters checks that the register operations are linearizable,
// key by key. For a key that is not, the anomaly lists its operations
// (the smallest history porcupine found no order for: that key's).
func CheckRegisters(ops []RegisterOp, timeout time.Duration) []Anomaly {
	var hist []porcupine.Operation
	for _, o := range ops {
		end := o.End
		if o.Write && o.Unknown {
			end = math.MaxInt64 // may take effect at any time, or never
		}
		hist = append(hist, porcupine.Operation{ClientId: o.Process, Input: regInput{o.Write, o.Value}, Call: o.Start, Output: o.Value, Return: end, Metadata: o})
	}
	var out []Anomaly
	for _, part := range registerModel.Partition(hist) {
		res := porcupine.CheckOperationsTimeout(registerModel, part, timeout)
		if res == porcupine.Ok {
			continue
		}
		key := part[0].Metadata.(RegisterOp).Key
		kind := "nonlinearizable"
		if res == porcupine.Illegal {
			part = minimize(part, timeout)
		} else {
			kind = "unchecked" // porcupine ran out of time
		}
		slices.SortFunc(part, func(a, b porcupine.Operation) int {
			if a.Call != b.Call {
				if a.Call < b.Call {
					return -1
				}
				return 1
			}
			return 0
		})
		var b strings.Builder
		fmt.Fprintf(&b, "key %d (%s), %d operations:", key, res, len(part))
		for _, op := range part {
			fmt.Fprintf(&b, "\n  %s", op.Metadata.(RegisterOp))
		}
		out = append(out, Anomaly{Kind: kind, Explain: b.String()})
	}
	return out
}

// minimize drops operations, one at a time, while the rest stays not
// linearizable (keeping the writes of the values read): what is left is a small history that shows the anomaly.
func minimize(part []porcupine.Operation, timeout time.Duration) []porcupine.Operation {
	if len(part) > 400 {
		return part
	}
	read := func(ops []porcupine.Operation, v int) bool {
		for _, op := range ops {
			if o := op.Metadata.(RegisterOp); !o.Write && o.Value == v {
				return true
			}
		}
		return false
	}
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(part); {
			rest := append(append([]porcupine.Operation(nil), part[:i]...), part[i+1:]...)
			// A write stays while a read returns its value: the history shown
			// must explain every value it reads.
			if o := part[i].Metadata.(RegisterOp); o.Write && read(rest, o.Value) {
				i++
				continue
			}
			if len(rest) > 0 && porcupine.CheckOperationsTimeout(registerModel, rest, timeout) == porcupine.Illegal {
				part, changed = rest, true
				continue
			}
			i++
		}
	}
	return part
}
