package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestRawShapeOverflow: a -shape whose byte length overflows int is one
// line on stderr and exit status 2. Before the checked arithmetic,
// 4 x 2^62 wrapped to 0, matched the empty file and panicked in makeslice.
func TestRawShapeOverflow(t *testing.T) {
	if strconv.IntSize < 64 {
		t.Skip("the shapes are beyond a 32-bit int")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty.raw"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ shape, want string }{
		{"4611686018427387904", `tensorquant calibrate: -shape "4611686018427387904": shape [4611686018427387904] of 4-byte elements has more bytes than an int can count`},
		{"9223372036854775807", `tensorquant calibrate: -shape "9223372036854775807": shape [9223372036854775807] of 4-byte elements has more bytes than an int can count`},
		{"4294967296,4294967296", `tensorquant calibrate: -shape "4294967296,4294967296": shape [4294967296 4294967296] has more elements than an int can count`},
	} {
		out, errOut, code := tq(t, dir, "calibrate", "-shape", tc.shape, "empty.raw")
		if code != 2 || out != "" || errOut != tc.want+"\n" {
			t.Errorf("-shape %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.shape, code, out, errOut, tc.want)
		}
	}
}
