package fakequant

import (
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// ntLen is above NT_MIN of kernels_amd64.s (2 Mi elements), so that the
// float32-output kernels take their non-temporal path: unaligned head,
// streamed body, SFENCE and the ordinary loops for the rest.
const ntLen = 3<<20 + 45

// TestLargeKernelsMatchGeneric runs every kernel on ntLen elements at
// several misalignments of src and dst, with guards around dst, in place
// too, against the generic code.
func TestLargeKernelsMatchGeneric(t *testing.T) {
	if testing.Short() {
		t.Skip("3 Mi-element inputs; skipped with -short")
	}
	r := rand.New(rand.NewPCG(30, 31))
	lo, hi := Int8.Bounds()
	sq, so := scales(0.7, hi, true)
	src := interesting(r, ntLen+16, 0.7, Int8)
	dy := interesting(r, ntLen+16, 1, Int8)
	sqv, sov := make([]float32, ntLen+16), make([]float32, ntLen+16)
	codes := make([]int8, ntLen+16)
	for i := range sqv {
		sqv[i], sov[i] = scales([]float32{0.7, 2, 0, 1e-3}[i%4], hi, true)
		codes[i] = int8(r.Uint32())
	}
	want := make([]float32, ntLen)
	wantQ := make([]int8, ntLen)
	for _, off := range []int{0, 1, 7, 15} {
		s, d := src[off:off+ntLen], (off*5+3)%16
		type kernel struct {
			name        string
			generic, fn func(dst []float32)
		}
		for _, k := range []kernel{
			{"fakeQuant",
				func(dst []float32) { fakeQuantGeneric(dst, s, sq, so, lo, hi) },
				func(dst []float32) { fakeQuant(dst, s, sq, so, lo, hi) }},
			{"fakeQuantVec",
				func(dst []float32) { fakeQuantVecGeneric(dst, s, sqv[off:off+ntLen], sov[off:off+ntLen], lo, hi) },
				func(dst []float32) { fakeQuantVec(dst, s, sqv[off:off+ntLen], sov[off:off+ntLen], lo, hi) }},
			{"dequantInt8",
				func(dst []float32) { dequantInt8Generic(dst, codes[off:off+ntLen], 127/0.7) },
				func(dst []float32) { dequantInt8(dst, codes[off:off+ntLen], 127/0.7) }},
			{"ste",
				func(dst []float32) { steGeneric(dst, s, dy[d:d+ntLen], 0.7) },
				func(dst []float32) { ste(dst, s, dy[d:d+ntLen], 0.7) }},
		} {
			k.generic(want)
			for _, impl := range cpufeat.Available()[1:] {
				restore := cpufeat.Use(impl)
				dst, check := guardedF32(ntLen, d)
				k.fn(dst)
				restore()
				if diff := conformance.DiffFloat32(dst, want); diff != "" {
					t.Fatalf("%v %s src offset %d dst offset %d: %s", impl, k.name, off, d, diff)
				}
				if err := check(); err != nil {
					t.Fatalf("%v %s src offset %d dst offset %d: %v", impl, k.name, off, d, err)
				}
			}
		}
		quantInt8Generic(wantQ, s, sq, lo, hi)
		fakeQuantGeneric(want, s, sq, so, lo, hi)
		for _, impl := range cpufeat.Available()[1:] {
			restore := cpufeat.Use(impl)
			q, check := guarded(ntLen, d, int8(0x5a))
			quantInt8(q, s, sq, lo, hi)
			inPlace := append([]float32{}, src...)[off : off+ntLen]
			fakeQuant(inPlace, inPlace, sq, so, lo, hi)
			restore()
			for i := range q {
				if q[i] != wantQ[i] {
					t.Fatalf("%v quantInt8 offset %d: [%d] = %d want %d", impl, off, i, q[i], wantQ[i])
				}
			}
			if err := check(); err != nil {
				t.Fatalf("%v quantInt8 offset %d: %v", impl, off, err)
			}
			if diff := conformance.DiffFloat32(inPlace, want); diff != "" {
				t.Fatalf("%v fakeQuant in place, offset %d: %s", impl, off, diff)
			}
		}
	}
}

// TestKernelsInPlace covers the aliasing the API allows: FakeQuantVec with
// dst == src, and STE with dst == x and with dst == dy, at every length up
// to 300 and (without -short) at the streaming length.
func TestKernelsInPlace(t *testing.T) {
	r := rand.New(rand.NewPCG(34, 35))
	lengths := make([]int, 0, 302)
	for n := 0; n <= 300; n++ {
		lengths = append(lengths, n)
	}
	if !testing.Short() {
		lengths = append(lengths, ntLen)
	}
	maxLen := lengths[len(lengths)-1]
	lo, hi := Int8.Bounds()
	x := interesting(r, maxLen, 0.7, Int8)
	dy := interesting(r, maxLen, 1, Int8)
	sqv, sov := make([]float32, maxLen), make([]float32, maxLen)
	for i := range sqv {
		sqv[i], sov[i] = scales([]float32{0.7, 3, 1e-3}[i%3], hi, true)
	}
	want := make([]float32, maxLen)
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, n := range lengths {
			fakeQuantVecGeneric(want[:n], x[:n], sqv[:n], sov[:n], lo, hi)
			buf := append([]float32{}, x[:n]...)
			fakeQuantVec(buf, buf, sqv[:n], sov[:n], lo, hi)
			if d := conformance.DiffFloat32(buf, want[:n]); d != "" {
				t.Fatalf("fakeQuantVec n=%d in place: %s", n, d)
			}
			steGeneric(want[:n], x[:n], dy[:n], 0.7)
			buf = append(buf[:0], x[:n]...)
			ste(buf, buf, dy[:n], 0.7)
			if d := conformance.DiffFloat32(buf, want[:n]); d != "" {
				t.Fatalf("ste n=%d with dst == x: %s", n, d)
			}
			buf = append(buf[:0], dy[:n]...)
			ste(buf, x[:n], buf, 0.7)
			if d := conformance.DiffFloat32(buf, want[:n]); d != "" {
				t.Fatalf("ste n=%d with dst == dy: %s", n, d)
			}
		}
	})
}
