package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/objectsharing/oss/oss"
)

// The access control endpoints:
//
//	GET    /v1/acl   the grants, as the node's catalog replica has them
//	POST   /v1/acl   grant: a JSON oss.Grant {"Who":…, "Heap":…, "Perm":…}
//	DELETE /v1/acl   revoke: the same body, exactly as granted
//
// They require admin on every heap ("*"): roles server and admin, or a
// client granted admin on "*". See aclRequirement.

// registerACL adds the access control endpoints to the interface.
func (a *api) registerACL(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/acl", a.grants)
	mux.HandleFunc("POST /v1/acl", a.grant)
	mux.HandleFunc("DELETE /v1/acl", a.revoke)
}

// aclRequirement says what a request to the access control endpoints
// requires of its caller, for the interface's authorization: admin on
// "*"; ok is false for every other path.
func aclRequirement(r *http.Request) (heap string, perm oss.Permission, ok bool) {
	if r.URL.Path == "/v1/acl" || strings.HasPrefix(r.URL.Path, "/v1/acl/") {
		return "*", oss.PermAdmin, true
	}
	return "", "", false
}

func (a *api) grants(w http.ResponseWriter, r *http.Request) {
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
	var g oss.Grant
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		fail(w, &badRequest{fmt.Errorf("grant: %w", err)})
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
