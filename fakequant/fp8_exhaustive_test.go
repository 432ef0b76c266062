package fakequant

import (
	"bytes"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
)

// TestFP8Exhaustive converts every one of the 2^32 float32 bit patterns to
// both FP8 formats, with and without saturation, with every kernel family
// this machine runs, and compares each code with the float64 reference
// (refFP8.encode). It also runs the fused fake-quantization kernel with
// scale 1 on every pattern, which must equal the decoded saturated code
// (bit for bit; any NaN matches any NaN): that pins the float-domain
// rounding of FakeQuantFP8 to the conversion.
//
// The reference rounds each magnitude once per format and the kernels see
// both signs, so each of the 2^31 magnitudes costs two reference roundings.
func TestFP8Exhaustive(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive FP8 test skipped under -short")
	}
	const chunk = 1 << 16
	const chunks = 1 << 31 / chunk
	// One family per distinct FP8 kernel (TestFP8Dispatch).
	var impls []cpufeat.Impl
	seen := map[string]bool{}
	for _, impl := range cpufeat.Available() {
		if name := fp8ImplName(impl); !seen[name] {
			seen[name] = true
			impls = append(impls, impl)
		}
	}
	var (
		next   atomic.Int64
		failed atomic.Bool
		mu     sync.Mutex
		errs   []string
		wg     sync.WaitGroup
	)
	report := func(format string, args ...any) {
		mu.Lock()
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
		failed.Store(true)
	}
	for range runtime.NumCPU() {
		wg.Go(func() {
			src := make([]float32, 2*chunk)
			want := make([]uint8, 2*chunk)
			wantNoSat := make([]uint8, 2*chunk)
			wantRound := make([]float32, 2*chunk)
			got := make([]uint8, 2*chunk)
			gotF := make([]float32, 2*chunk)
			for !failed.Load() {
				k := next.Add(1) - 1
				if k >= chunks {
					return
				}
				base := uint32(k) * chunk
				for i := range uint32(chunk) {
					src[i] = math.Float32frombits(base + i)
					src[chunk+i] = math.Float32frombits(signBit | (base + i))
				}
				for _, r := range refFP8s {
					for i := range chunk {
						x := src[i]
						if x != x {
							want[i], wantNoSat[i] = 0x7F, 0x7F
							want[chunk+i], wantNoSat[chunk+i] = 0xFF, 0xFF
						} else {
							v := r.round(x)
							want[i] = r.code(v, false, true)
							wantNoSat[i] = want[i]
							if v > r.max {
								wantNoSat[i] = r.code(v, false, false)
							}
							want[chunk+i], wantNoSat[chunk+i] = want[i]|0x80, wantNoSat[i]|0x80
						}
					}
					vals := ref32[r.f]
					for i, c := range want {
						wantRound[i] = vals[c]
					}
					p := fp8ParamsOf(r.f)
					for _, impl := range impls {
						encodeFP8With(impl, got, src, 1, p, true)
						if i := firstDiff(got, want); i >= 0 {
							report("%v %s saturate: x=%#08x got %#02x want %#02x", impl, r.name, math.Float32bits(src[i]), got[i], want[i])
						}
						encodeFP8With(impl, got, src, 1, p, false)
						if i := firstDiff(got, wantNoSat); i >= 0 {
							report("%v %s no saturation: x=%#08x got %#02x want %#02x", impl, r.name, math.Float32bits(src[i]), got[i], wantNoSat[i])
						}
						fakeQuantFP8With(impl, gotF, src, 1, p)
						if bytes.Equal(f32Bytes(gotF), f32Bytes(wantRound)) {
							continue
						}
						for i := range gotF { // NaN payloads may differ
							if !conformance.SameFloat32(gotF[i], wantRound[i]) {
								report("%v %s fake quant scale 1: x=%#08x got %#08x want %#08x", impl, r.name, math.Float32bits(src[i]), math.Float32bits(gotF[i]), math.Float32bits(wantRound[i]))
								break
							}
						}
					}
				}
			}
		})
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
}

// firstDiff returns the first index where a and b differ, or -1.
func firstDiff(a, b []uint8) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// f32Bytes views a []float32 as its bytes.
func f32Bytes(f []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(f))), 4*len(f))
}

// ref32 holds the reference value of every code as a float32.
var ref32 = func() map[FP8Format]*[256]float32 {
	m := map[FP8Format]*[256]float32{}
	for _, r := range refFP8s {
		t := new([256]float32)
		for c, v := range r.values {
			t[c] = float32(v)
		}
		m[r.f] = t
	}
	return m
}()
