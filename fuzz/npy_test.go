package fuzz

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/tensorquant/tensorquant/npy"
)

// FuzzNPY feeds arbitrary bytes to the .npy reader: it must return an error
// or a tensor, never panic, and what it reads must survive a write/read
// round trip bit for bit.
func FuzzNPY(f *testing.F) {
	files, _ := filepath.Glob("../npy/testdata/*.npy")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := npy.Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := npy.Write(&buf, x); err != nil {
			t.Fatalf("write of a decoded tensor: %v", err)
		}
		y, err := npy.Read(&buf)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(y.Data) != len(x.Data) || len(y.Shape) != len(x.Shape) {
			t.Fatalf("round trip changed %v to %v", x.Shape, y.Shape)
		}
		for i := range x.Data {
			if !same(x.Data[i], y.Data[i]) {
				t.Fatalf("element %d: %v became %v", i, x.Data[i], y.Data[i])
			}
		}
	})
}
