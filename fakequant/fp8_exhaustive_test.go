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
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
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
//
// Under the purego tag it skips: the generic family is one of those the
// build with assembly checks (make unit), and the sweep takes two minutes.
func TestFP8Exhaustive(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive FP8 test skipped under -short")
	}
	if kerneltest.Purego {
		t.Skip("purego: the generic family is checked by the build with assembly")
	}
	const chunk = 1 << 16
	const chunks = 1 << 31 / chunk
	// Every family has FP8 kernels of its own (TestDispatchUsesBestFamily).
	impls := cpufeat.Available()
	var (
		failed atomic.Bool
		mu     sync.Mutex
		errs   []string
	)
	report := func(format string, args ...any) {
		mu.Lock()
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
		failed.Store(true)
	}
	// A batch of one chunk per worker: the workers compute the references
	// of their chunks, then run the kernels of each family in turn on them
	// (the family is switched between the phases, with no kernel running).
	type format struct{ want, wantNoSat []uint8 }
	type job struct {
		src       []float32
		formats   []format
		wantRound []float32
		got       []uint8
		gotF      []float32
	}
	jobs := make([]job, runtime.NumCPU())
	for w := range jobs {
		j := &jobs[w]
		j.src, j.wantRound, j.got, j.gotF = make([]float32, 2*chunk), make([]float32, 2*len(refFP8s)*chunk), make([]uint8, 2*chunk), make([]float32, 2*chunk)
		for range refFP8s {
			j.formats = append(j.formats, format{make([]uint8, 2*chunk), make([]uint8, 2*chunk)})
		}
	}
	parallel := func(n int, f func(j *job, k int)) {
		var wg sync.WaitGroup
		for w := range n {
			wg.Go(func() { f(&jobs[w], w) })
		}
		wg.Wait()
	}
	for start := 0; start < chunks && !failed.Load(); start += len(jobs) {
		n := min(len(jobs), chunks-start)
		parallel(n, func(j *job, w int) {
			base := uint32(start+w) * chunk
			for i := range uint32(chunk) {
				j.src[i] = math.Float32frombits(base + i)
				j.src[chunk+i] = math.Float32frombits(signBit | (base + i))
			}
			for ri, r := range refFP8s {
				want, wantNoSat := j.formats[ri].want, j.formats[ri].wantNoSat
				for i := range chunk {
					x := j.src[i]
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
				vals, wantRound := ref32[r.f], j.wantRound[2*ri*chunk:2*(ri+1)*chunk]
				for i, c := range want {
					wantRound[i] = vals[c]
				}
			}
		})
		for _, impl := range impls {
			restore := cpufeat.Use(impl)
			parallel(n, func(j *job, _ int) {
				for ri, r := range refFP8s {
					p, want, wantNoSat := fp8ParamsOf(r.f), j.formats[ri].want, j.formats[ri].wantNoSat
					wantRound := j.wantRound[2*ri*chunk : 2*(ri+1)*chunk]
					encodeFP8(j.got, j.src, 1, p, true)
					if i := firstDiff(j.got, want); i >= 0 {
						report("%v %s saturate: x=%#08x got %#02x want %#02x", impl, r.name, math.Float32bits(j.src[i]), j.got[i], want[i])
					}
					encodeFP8(j.got, j.src, 1, p, false)
					if i := firstDiff(j.got, wantNoSat); i >= 0 {
						report("%v %s no saturation: x=%#08x got %#02x want %#02x", impl, r.name, math.Float32bits(j.src[i]), j.got[i], wantNoSat[i])
					}
					fakeQuantFP8(j.gotF, j.src, 1, p)
					if bytes.Equal(f32Bytes(j.gotF), f32Bytes(wantRound)) {
						continue
					}
					for i := range j.gotF { // NaN payloads may differ
						if !conformance.SameFloat32(j.gotF[i], wantRound[i]) {
							report("%v %s fake quant scale 1: x=%#08x got %#08x want %#08x", impl, r.name, math.Float32bits(j.src[i]), math.Float32bits(j.gotF[i]), math.Float32bits(wantRound[i]))
							break
						}
					}
				}
			})
			restore()
		}
	}
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
