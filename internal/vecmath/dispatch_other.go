//go:build !amd64 || !gc || purego

package vecmath

// Without assembly the tables stay empty and every slice runs the generic
// code; minCover is never consulted.
const minCover = 1
