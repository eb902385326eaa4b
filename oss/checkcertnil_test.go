package oss_test

import (
	"context"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// CheckCertificate of no certificate says so; it panicked on the nil
// certificate's subject.
func TestCheckCertificateOfNoCertificateIsRefused(t *testing.T) {
	n, err := oss.Start(context.Background(), &oss.Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	if err := n.CheckCertificate(nil); err == nil {
		t.Fatal("CheckCertificate(nil) = nil, want an error saying there is no certificate")
	}
}
