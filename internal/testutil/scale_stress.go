//go:build stress

package testutil

const stress = true
