//go:build purego

package main

// buildTags are the build tags of the tests, which TestMain builds the
// command with: a test that compares the command's numbers with the
// library's needs both on the same kernels.
const buildTags = "purego"
