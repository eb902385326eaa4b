// Package layout holds tests of the module's package layering and package
// documentation.
package layout
