package admin

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/objectsharing/oss/oss"
)

// Revocation is a certificate revoked in the cluster, as the admin
// interface shows it; see oss.Revocation for what it covers.
type Revocation struct {
	Name string `json:"name"`
	// Serial is the revoked certificate's serial number in hexadecimal;
	// empty, every certificate of Name issued until At is revoked.
	Serial string    `json:"serial,omitempty"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
}

// RevokeRequest asks to revoke the certificate of Name with Serial (in
// hexadecimal), or every certificate of Name issued until now if Serial
// is empty.
type RevokeRequest struct {
	Name   string `json:"name"`
	Serial string `json:"serial,omitempty"`
}

func revocationOf(r oss.Revocation) Revocation {
	out := Revocation{Name: r.Name, At: r.At.UTC(), By: r.By}
	if r.Serial != nil {
		out.Serial = r.Serial.Text(16)
	}
	return out
}

// ParseSerial reads a certificate serial number in hexadecimal, as
// "ossd cert issue" prints it and "openssl x509 -serial" does (a
// "serial=" or "0x" prefix and colons between bytes are allowed).
func ParseSerial(s string) (*big.Int, error) {
	h := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "serial=")
	h = strings.ReplaceAll(strings.TrimPrefix(h, "0x"), ":", "")
	v, ok := new(big.Int).SetString(h, 16)
	if !ok || h == "" || v.Sign() <= 0 {
		return nil, fmt.Errorf("serial %q: want a positive hexadecimal number", s)
	}
	return v, nil
}

// registerRevocations adds the revocation endpoints to the interface:
// GET /v1/revocations lists them, POST /v1/revocations (a RevokeRequest)
// records one.
func (a *api) registerRevocations() {
	a.handle("GET /v1/revocations", "", 0, a.revocations)
	a.handle("POST /v1/revocations", PermAdmin, smallBody, a.revokeCert)
}

func (a *api) revocations(w http.ResponseWriter, r *http.Request) {
	if a.refuseStale(w) {
		return
	}
	out := []Revocation{}
	for _, rev := range a.node.Revocations() {
		out = append(out, revocationOf(rev))
	}
	reply(w, http.StatusOK, out)
}

func (a *api) revokeCert(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	body, err := readBody(r)
	if err != nil {
		fail(w, err)
		return
	}
	var req RevokeRequest
	if err := decodeRequest(body, 0, &req); err != nil {
		fail(w, fmt.Errorf("revocation request: %w", err))
		return
	}
	var serial *big.Int
	if req.Serial != "" {
		var err error
		if serial, err = ParseSerial(req.Serial); err != nil {
			fail(w, &badRequest{err})
			return
		}
	}
	rev, err := a.node.RevokeCertificate(ctx, req.Name, serial)
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, revocationOf(rev))
}
