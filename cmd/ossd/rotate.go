package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/objectsharing/oss/oss/pki"
)

// keptRole is the role "cert issue --force" gives the new certificate:
// the one of the certificate it replaces, unless --role (or its
// environment variable) asks for one. The rotation the README gives,
// "ossd cert issue --name N --force", names no role, and for a client
// node or an operator it issued a server's certificate: a client node
// refused it at SIGHUP, an operator's CLI went on as a server node, and a
// client node restarted with --role server would have voted.
func keptRole(fs *flag.FlagSet, role string, replaced *pki.CertInfo) string {
	if replaced == nil || replaced.Role == "" || string(replaced.Role) == role {
		return role
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "role" })
	if _, ok := os.LookupEnv(envName("role")); ok || given {
		fmt.Printf("the certificate replaced carries the role %s; the new one %s, as --role asks\n", replaced.Role, role)
		return role
	}
	fmt.Printf("the new certificate keeps the role %s of the one it replaces (--role to give another)\n", replaced.Role)
	return string(replaced.Role)
}

// printReplaced says which certificate "cert issue --force" replaced and
// how to revoke it once it is out of use: a node's after its node
// reloads (SIGHUP) or restarts, an operator's once the CLI presents the
// new one (it reads its files at every command).
func printReplaced(name string, role pki.Role, replaced *pki.CertInfo) {
	once := fmt.Sprintf("once %s runs on the new one (SIGHUP or a restart)", name)
	if role == pki.RoleAdmin {
		once = fmt.Sprintf("once every copy of %s's certificate and key the CLI reads (--certs DIR) is the new one", name)
	}
	fmt.Printf("replaced the certificate with serial %s: %s, revoke it with\n  ossd cert revoke %s --serial %s\n",
		replaced.Serial.Text(16), once, name, replaced.Serial.Text(16))
}
