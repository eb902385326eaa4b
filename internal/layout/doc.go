// Package layout holds tests of the module's package layering, package
// documentation and function length.
package layout
