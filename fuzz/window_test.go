package fuzz

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/nn"
)

// FuzzWindowKernels checks every kernel family of the sliding-window rows
// (depthwise convolution and max pooling with and without its argmax,
// through nn.Conv.DepthwisePlanes and nn.MaxPool) against the generic code on arbitrary float32 bit
// patterns and geometries: 2, 3 or 5 taps, stride 1 to 3, padding,
// widths around the vector sizes, 9 channels (a block of 8 for the
// interleaved depthwise kernels, and one plane).
func FuzzWindowKernels(f *testing.F) {
	f.Add([]byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop"), uint8(3), uint8(2), uint8(1), uint8(37))
	f.Add(make([]byte, 4*200), uint8(5), uint8(1), uint8(2), uint8(20))
	seed := make([]byte, 4*9*16*19)
	for i := range seed {
		seed[i] = byte(i*7 + i/13)
	}
	f.Add(seed, uint8(1), uint8(0), uint8(1), uint8(16))
	f.Add(seed, uint8(2), uint8(1), uint8(2), uint8(9))
	f.Fuzz(func(t *testing.T, data []byte, k, s, pad, width uint8) {
		kk := []int{2, 3, 5}[int(k)%3]
		ss, pp := 1+int(s)%3, int(pad)%kk
		w := kk + int(width)%61
		x := floats(data)
		const C = 9
		h := len(x) / (C * w)
		if h < kk || len(x) < C*kk*kk+C {
			return
		}
		ho, wo := (h+2*pp-kk)/ss+1, (w+2*pp-kk)/ss+1
		g := nn.NewGeom([]int{h, w}, []int{ho, wo}, []int{kk, kk}, []int{ss, ss}, []int{pp, pp}, nil, []int{1, 1})
		c := nn.Conv{Geom: g, InC: C, OutC: C, Groups: C}
		wts, bias := x[:C*kk*kk], x[C*kk*kk:C*kk*kk+C]
		in := x[:C*h*w]
		eachImpl(t, func() [4][]float32 {
			dw := make([]float32, C*ho*wo)
			c.DepthwisePlanes(dw, in, wts, bias, 0, C)
			mp, mpa := make([]float32, C*ho*wo), make([]float32, C*ho*wo)
			nn.MaxPool(mp, nil, in, &g, 0, C)
			am := make([]int32, C*ho*wo)
			nn.MaxPool(mpa, am, in, &g, 0, C)
			ami := make([]float32, len(am))
			for i, a := range am {
				ami[i] = float32(a)
			}
			return [4][]float32{dw, mp, mpa, ami}
		}, func(impl cpufeat.Impl, got, want [4][]float32) {
			for j, name := range []string{"depthwise", "max pooling", "max pooling with argmax", "argmax"} {
				for i := range want[j] {
					if !same(got[j][i], want[j][i]) {
						t.Fatalf("%v %s k%d s%d pad %d %dx%d: output %d is %v, want %v", impl, name, kk, ss, pp, h, w, i, got[j][i], want[j][i])
					}
				}
			}
		})
	})
}
