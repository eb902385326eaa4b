package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// members names the three members of either system.
var members = []string{"m0", "m1", "m2"}

// scaleMembers names the OSS nodes of the scale-out runs (-scale), which
// have certificates too.
var scaleMembers = []string{"m3", "m4", "m5", "m6"}

// writeCerts makes one CA for both systems with oss/pki and writes it to
// dir (ca.pem), with, for each member, an OSS node certificate from
// pki.IssueCert (NAME-oss.pem, NAME-oss.key) and an etcd certificate
// signed by the same CA (NAME-etcd.pem, NAME-etcd.key). etcd's peers and
// clients check the server's address against the certificate, so its
// certificates carry the IP SAN 127.0.0.1 (pki's carry the node's name as
// a DNS name, which is what OSS checks); they are for both server and
// client authentication, as etcd uses one certificate for both sides of a
// peer connection.
func writeCerts(dir string) error {
	caPEM, caKeyPEM, err := pki.NewCA("bench", 24*time.Hour)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), caPEM, 0o600); err != nil {
		return err
	}
	caCert, caKey, err := parseCA(caPEM, caKeyPEM)
	if err != nil {
		return err
	}
	for _, m := range members {
		cert, key, err := pki.IssueCert(caPEM, caKeyPEM, m, pki.RoleServer, 24*time.Hour)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, m+"-oss.pem"), cert, 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, m+"-oss.key"), key, 0o600); err != nil {
			return err
		}
		cert, key, err = etcdCert(caCert, caKey, m)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, m+"-etcd.pem"), cert, 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, m+"-etcd.key"), key, 0o600); err != nil {
			return err
		}
	}
	for _, m := range scaleMembers {
		cert, key, err := pki.IssueCert(caPEM, caKeyPEM, m, pki.RoleServer, 24*time.Hour)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, m+"-oss.pem"), cert, 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, m+"-oss.key"), key, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func parseCA(certPEM, keyPEM []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, errors.New("bench: CA PEM does not decode")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	if key, err := x509.ParseECPrivateKey(kb.Bytes); err == nil {
		return cert, key, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: CA key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("bench: CA key is a %T, want ECDSA", k)
	}
	return cert, key, nil
}

func etcdCert(ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{name, "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}
