package admin

import "context"

// Hot returns the heap's contention as the node's replica sees it: the
// objects, roots and scans that made transactions conflict lately,
// hottest first.
func (c *Client) Hot(ctx context.Context, heap string) (Hot, error) {
	var out Hot
	if err := named(heap); err != nil {
		return out, err
	}
	err := c.Do(ctx, "GET", heapPath(heap)+"/hot", nil, &out)
	return out, err
}
