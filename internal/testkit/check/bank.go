package check

import (
	"fmt"
	"slices"
	"strings"
)

// BankRead is one snapshot of a bank: every account's balance as one
// transaction read them.
type BankRead struct {
	Process  int
	Balances map[int]int64
	Fresh    bool
	At       int64
}

// CheckBank checks that every snapshot holds every account and the total
// the bank started with: a transfer is never half-seen.
func CheckBank(reads []BankRead, accounts int, total int64) []Anomaly {
	var out []Anomaly
	for i, r := range reads {
		var sum int64
		for _, b := range r.Balances {
			sum += b
		}
		if len(r.Balances) != accounts || sum != total {
			ids := make([]int, 0, len(r.Balances))
			for id := range r.Balances {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			var b strings.Builder
			for _, id := range ids {
				fmt.Fprintf(&b, " %d:%d", id, r.Balances[id])
			}
			out = append(out, Anomaly{Kind: "bank", Txns: []int{i},
				Explain: fmt.Sprintf("snapshot %d (process %d) holds %d accounts summing to %d, want %d summing to %d:%s", i, r.Process, len(r.Balances), sum, accounts, total, b.String())})
		}
	}
	return out
}
