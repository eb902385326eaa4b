package admin

import (
	"context"
	"net/http"

	"github.com/objectsharing/oss/oss"
)

// Hot is a heap's contention as one node's replica sees it: the objects,
// roots and scans that made transactions conflict lately, hottest first
// (see oss.Heap.Hot).
type Hot struct {
	Heap string `json:"heap"`
	// HalfLifeSeconds is the time over which a count halves.
	HalfLifeSeconds float64         `json:"halfLifeSeconds"`
	Objects         []oss.HotObject `json:"objects"`
}

func (a *api) hot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	h, err := a.heap(ctx, r.PathValue("heap"), false)
	if err != nil {
		fail(w, err)
		return
	}
	objs := h.Hot()
	if objs == nil {
		objs = []oss.HotObject{}
	}
	reply(w, http.StatusOK, Hot{Heap: h.Name(), HalfLifeSeconds: oss.HotHalfLife.Seconds(), Objects: objs})
}
