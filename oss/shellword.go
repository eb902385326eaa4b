package oss

import "strings"

// shellWord returns s as one word of a POSIX shell's command line: as it
// is if every byte of it is one a shell takes literally, else in single
// quotes. A remedy printed as a command ("ossd acl grant --to NAME --heap
// *") must do what it says when pasted: a bare * is expanded to the file
// names of the current directory, a heap name with a space splits in two.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/@+=%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
