package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/objectsharing/oss/oss"
)

// Grants lists the cluster's grants, as the node's catalog replica has
// them.
func (c *Client) Grants(ctx context.Context) ([]oss.Grant, error) {
	var gs []oss.Grant
	err := c.Do(ctx, "GET", "/v1/acl", nil, &gs)
	return gs, aclError(err)
}

// Grant gives g.Who the permission g.Perm on g.Heap. A caller without
// admin on "*" gets an error matching oss.ErrPermission.
func (c *Client) Grant(ctx context.Context, g oss.Grant) error {
	return aclError(c.Do(ctx, "POST", "/v1/acl", g, nil))
}

// RevokeGrant removes the grant g, exactly as it was granted; one that
// does not exist is an error matching oss.ErrNotFound.
func (c *Client) RevokeGrant(ctx context.Context, g oss.Grant) error {
	return aclError(c.Do(ctx, "DELETE", "/v1/acl", g, nil))
}

// aclError makes a 403 answer match oss.ErrPermission.
func aclError(err error) error {
	if se, ok := errors.AsType[*StatusError](err); ok && se.Code == http.StatusForbidden {
		return &permissionError{se}
	}
	return err
}

// permissionError is a refusal of the interface for lack of a grant.
type permissionError struct{ *StatusError }

// Is reports whether target is oss.ErrPermission.
func (e *permissionError) Is(target error) bool { return target == oss.ErrPermission }

// Unwrap returns the answer.
func (e *permissionError) Unwrap() error { return e.StatusError }
