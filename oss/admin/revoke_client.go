package admin

import "context"

// Revoke revokes the certificate of name with the given serial number (in
// hexadecimal), or, with serial empty, every certificate of name issued
// until now; see oss.Node.RevokeCertificate.
func (c *Client) Revoke(ctx context.Context, name, serial string) (Revocation, error) {
	var out Revocation
	err := c.Do(ctx, "POST", "/v1/revocations", RevokeRequest{Name: name, Serial: serial}, &out)
	return out, err
}

// Revocations lists the certificates revoked in the cluster.
func (c *Client) Revocations(ctx context.Context) ([]Revocation, error) {
	var out []Revocation
	err := c.Do(ctx, "GET", "/v1/revocations", nil, &out)
	return out, err
}
