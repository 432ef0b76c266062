package qgemm

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPackMatrixRows checks PackMatrix's row-by-row packing of a
// row-major B against pack, the specification (one call of at per
// element), for every family: panels, column sums and zero points, with
// depths and widths around the quads and panels, a row stride past the
// width, both byte types and per-tensor and per-column zero points.
func TestPackMatrixRows(t *testing.T) {
	forEachFamily(t, func(t *testing.T, fam family) {
		rng := rand.New(rand.NewPCG(3, uint64(fam)))
		nr := geometries[fam].nr
		for _, k := range []int{0, 1, 3, 4, 5, 8, 33} {
			for _, n := range []int{1, nr - 1, nr, nr + 1, 2*nr + 3} {
				ld := n + rng.IntN(3)
				t.Run(fmt.Sprintf("k%d/n%d", k, n), func(t *testing.T) {
					checkPackRows(t, k, n, ld, randomCodes[uint8](rng, max(k*ld, 1)), []uint8{uint8(rng.IntN(256))})
					zp := randomCodes[int8](rng, n)
					checkPackRows(t, k, n, ld, randomCodes[int8](rng, max(k*ld, 1)), zp)
				})
			}
		}
	})
}

func checkPackRows[T Int8](t *testing.T, k, n, ld int, b, zp []T) {
	t.Helper()
	got, err := PackMatrix(b, k, n, ld, false, zp)
	if err != nil {
		t.Fatal(err)
	}
	want, err := pack(1, k, n, zp, func(kk, j int) T { return b[kk*ld+j] })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.panel, want.panel) || !slices.Equal(got.colSum, want.colSum) || !slices.Equal(got.zp, want.zp) {
		t.Fatalf("%T: PackMatrix's panels, sums or zero points differ from pack's", b)
	}
}

// randomCodes returns n random values of T.
func randomCodes[T Int8](rng *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(rng.IntN(256))
	}
	return s
}
