package fakequant

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// blockShapes are ragged layouts: rows of every length against block sizes
// that divide them, do not, exceed them, and are 1.
var blockShapes = func() (out [][3]int) {
	for _, rowLen := range []int{1, 5, 31, 32, 33, 64, 100, 130, 257} {
		for _, bs := range []int{1, 3, 7, 8, 32, 64, 128} {
			for _, rows := range []int{1, 3} {
				out = append(out, [3]int{rows, rowLen, bs})
			}
		}
	}
	return out
}()

// blockOf is the reference block index of element i: blocks are numbered
// row by row, ceil(rowLen/blockSize) per row.
func blockOf(i, rowLen, blockSize int) int {
	perRow := (rowLen + blockSize - 1) / blockSize
	return i/rowLen*perRow + i%rowLen/blockSize
}

func TestNumBlocks(t *testing.T) {
	for _, c := range []struct{ n, rowLen, bs, want int }{
		{0, 5, 3, 0}, {10, 5, 3, 4}, {12, 4, 4, 3}, {128, 128, 32, 4}, {130, 130, 32, 5}, {7, 7, 100, 1}, {6, 1, 1, 6},
	} {
		if got, err := NumBlocks(c.n, c.rowLen, c.bs); err != nil || got != c.want {
			t.Errorf("NumBlocks(%d, %d, %d) = %d, %v; want %d", c.n, c.rowLen, c.bs, got, err, c.want)
		}
	}
	for _, c := range []struct {
		n, rowLen, bs int
		want          string
	}{{10, 5, 0, "block size 0 is less than 1"}, {10, 0, 3, "row length 0 is less than 1"}, {10, -2, 3, "row length -2"}, {10, 4, 2, "10 elements do not split into rows of 4"}} {
		if _, err := NumBlocks(c.n, c.rowLen, c.bs); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NumBlocks(%d, %d, %d): %v, want %q", c.n, c.rowLen, c.bs, err, c.want)
		}
	}
}

func TestBlockAmax(t *testing.T) {
	r := rand.New(rand.NewPCG(50, 51))
	for _, sh := range blockShapes {
		rows, rowLen, bs := sh[0], sh[1], sh[2]
		x := interesting(r, rows*rowLen, 1, Int8)
		got, err := BlockAmax(x, rowLen, bs)
		if err != nil {
			t.Fatal(err)
		}
		nb, _ := NumBlocks(len(x), rowLen, bs)
		want := make([]float32, nb)
		hasNaN := make([]bool, nb)
		for i, v := range x {
			b := blockOf(i, rowLen, bs)
			if v != v {
				hasNaN[b] = true
			} else if a := float32(math.Abs(float64(v))); a > want[b] {
				want[b] = a
			}
		}
		for b := range want {
			if hasNaN[b] {
				want[b] = nan
			}
		}
		if d := conformance.DiffFloat32(got, want); d != "" {
			t.Fatalf("shape %v: %s", sh, d)
		}
	}
	if _, err := BlockAmax(make([]float32, 5), 2, 1); err == nil {
		t.Error("BlockAmax accepted 5 elements in rows of 2")
	}
}

func TestFakeQuantBlock(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(52, 53))
		for _, f := range []Format{{NumBits: 4}, {NumBits: 4, NarrowRange: true}, {NumBits: 4, Unsigned: true}, Int8} {
			lo, hi := f.Bounds()
			for _, sh := range blockShapes {
				rows, rowLen, bs := sh[0], sh[1], sh[2]
				nb, _ := NumBlocks(rows*rowLen, rowLen, bs)
				amax := make([]float32, nb)
				for i := range amax {
					amax[i] = float32(r.Float64()*2) + 0.01
				}
				amax[0] = 0 // a zero block
				if nb > 2 && r.IntN(4) == 0 {
					amax[nb-1] = nan // disables the zero-amax masking everywhere
				}
				masking := maskingFor(amax)
				src := interesting(r, rows*rowLen, 1, f)
				want := make([]float32, len(src))
				for i, x := range src {
					sq, so := scales(amax[blockOf(i, rowLen, bs)], hi, masking)
					fakeQuantGeneric(want[i:i+1], []float32{x}, sq, so, lo, hi)
				}
				dst, check := guardedF32(len(src), 3)
				if err := FakeQuantBlock(dst, src, amax, rowLen, bs, f); err != nil {
					t.Fatal(err)
				}
				if d := conformance.DiffFloat32(dst, want); d != "" {
					t.Fatalf("%v shape %v amax %v: %s", f, sh, amax, d)
				}
				if err := check(); err != nil {
					t.Fatal(err)
				}
				// In place.
				if err := FakeQuantBlock(src, src, amax, rowLen, bs, f); err != nil {
					t.Fatal(err)
				}
				if d := conformance.DiffFloat32(src, want); d != "" {
					t.Fatalf("%v shape %v in place: %s", f, sh, d)
				}
			}
		}
	})
}

// TestFakeQuantBlockAgreesWithPerChannel: a block as long as the row is
// per-row (per-channel) fake quantization.
func TestFakeQuantBlockAgreesWithPerChannel(t *testing.T) {
	r := rand.New(rand.NewPCG(54, 55))
	src := interesting(r, 6*50, 1, Int8)
	amax, err := BlockAmax(src, 50, 50)
	if err != nil {
		t.Fatal(err)
	}
	amax[2] = 0.5
	got, want := make([]float32, len(src)), make([]float32, len(src))
	if err := FakeQuantBlock(got, src, amax, 50, 64, Format{NumBits: 4}); err != nil {
		t.Fatal(err)
	}
	if err := FakeQuantPerChannel(want, src, amax, 50, Format{NumBits: 4}); err != nil {
		t.Fatal(err)
	}
	if d := conformance.DiffFloat32(got, want); d != "" {
		t.Fatal(d)
	}
}

func TestFakeQuantBlockErrors(t *testing.T) {
	x := make([]float32, 10)
	for name, c := range map[string]struct {
		err  error
		want string
	}{
		"count":  {FakeQuantBlock(x, x, make([]float32, 3), 5, 2, Int8), "3 amax values for 6 blocks (rows of 5, blocks of 2)"},
		"block":  {FakeQuantBlock(x, x, make([]float32, 3), 5, 0, Int8), "block size 0"},
		"rows":   {FakeQuantBlock(x, x, make([]float32, 3), 3, 1, Int8), "do not split into rows of 3"},
		"dst":    {FakeQuantBlock(x[:9], x, make([]float32, 2), 5, 5, Int8), "dst has 9 elements for 10 inputs"},
		"format": {FakeQuantBlock(x, x, make([]float32, 2), 5, 5, Format{NumBits: 33}), "num_bits 33"},
		"amax":   {FakeQuantBlock(x, x, []float32{1, -0.5}, 5, 5, Int8), "amax -0.5 at flat index 1"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, c.err, c.want)
		}
	}
	if err := FakeQuantBlock(x, x, []float32{1, -0.5}, 5, 5, Int8); !errors.Is(err, ErrNegativeAmax) {
		t.Errorf("negative amax: %v", err)
	}
}
