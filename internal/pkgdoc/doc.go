// Package pkgdoc holds no code: its test holds every package of certinit to
// the rule that its doc comment says what the package is for and what it
// is not for, so that a reader who opens a directory learns first where its
// edges are.
//
// It does not judge the prose; it checks that the comment is there, names
// the package, and draws an edge (says what the package is not, does not
// do, or never does).
package pkgdoc
