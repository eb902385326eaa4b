package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/objectsharing/oss/oss"
)

// The access control endpoints:
//
//	GET    /v1/acl   the grants, as the node's catalog replica has them
//	                 (a damaged node's are stale: it answers its damage)
//	POST   /v1/acl   grant: a JSON oss.Grant {"Who":…, "Heap":…, "Perm":…}
//	DELETE /v1/acl   revoke: the same body, exactly as granted
//
// They require admin on every heap ("*"): roles server and admin, or a
// client granted admin on "*". See aclRequirement.

// registerACL adds the access control endpoints to the interface.
func (a *api) registerACL() {
	a.handle("GET /v1/acl", PermAdmin, 0, a.grants)
	a.handle("POST /v1/acl", PermAdmin, smallBody, a.grant)
	a.handle("DELETE /v1/acl", PermAdmin, smallBody, a.revoke)
}

func (a *api) grants(w http.ResponseWriter, r *http.Request) {
	if a.refuseStale(w) {
		return
	}
	gs := a.node.Grants()
	if gs == nil {
		gs = []oss.Grant{}
	}
	reply(w, http.StatusOK, gs)
}

func (a *api) grant(w http.ResponseWriter, r *http.Request) {
	a.changeGrant(w, r, "granted", a.node.Grant)
}

func (a *api) revoke(w http.ResponseWriter, r *http.Request) {
	a.changeGrant(w, r, "revoked", a.node.RevokeGrant)
}

// changeGrant decodes a grant from the request's body and grants or
// revokes it.
func (a *api) changeGrant(w http.ResponseWriter, r *http.Request, done string, change func(context.Context, oss.Grant) error) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	body, err := readBody(r)
	if err != nil {
		fail(w, err)
		return
	}
	var g oss.Grant
	if err := decodeRequest(body, 0, &g); err != nil {
		fail(w, fmt.Errorf("grant: %w", err))
		return
	}
	if err := change(ctx, g); err != nil {
		failACL(w, err)
		return
	}
	reply(w, http.StatusOK, map[string]oss.Grant{done: g})
}

// failACL is fail, with a permission refusal as 403.
func failACL(w http.ResponseWriter, err error) {
	if errors.Is(err, oss.ErrPermission) {
		reply(w, http.StatusForbidden, map[string]string{"error": err.Error()})
		return
	}
	fail(w, err)
}
