package fuzz

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/reduce"
)

// floats decodes little-endian float32 bit patterns (a trailing partial word
// is dropped).
func floats(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// same is bit equality with every NaN equal to every NaN.
func same(a, b float32) bool {
	return (a != a && b != b) || math.Float32bits(a) == math.Float32bits(b)
}

// format maps fuzz bytes onto every format the kernels accept (Validate):
// 1 to MaxNumBits bits unsigned, 2 to MaxNumBits signed.
func format(numBits, flags uint8) fakequant.Format {
	f := fakequant.Format{Unsigned: flags&1 != 0, NarrowRange: flags&2 != 0}
	lowest := 2
	if f.Unsigned {
		lowest = 1
	}
	f.NumBits = lowest + int(numBits)%(fakequant.MaxNumBits-lowest+1)
	return f
}

// eachImpl runs f under every non-generic kernel family this CPU supports,
// after computing want under the generic one.
func eachImpl[T any](t *testing.T, run func() T, check func(impl cpufeat.Impl, got, want T)) {
	restore := cpufeat.Use(cpufeat.Generic)
	want := run()
	restore()
	for _, i := range cpufeat.Available()[1:] {
		restore := cpufeat.Use(i)
		got := run()
		restore()
		check(i, got, want)
	}
}

func seeds(f *testing.F) {
	f.Add([]byte{0, 0, 0x80, 0x3f, 0, 0, 0xc0, 0x7f, 0, 0, 0x80, 0xff, 0, 0, 0, 0x80}, uint32(0x3f800000), uint8(8), uint8(0))
	f.Add(make([]byte, 4*67), uint32(0), uint8(8), uint8(2))
	f.Add([]byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuv"), uint32(0x7f800000), uint8(4), uint8(1))
	f.Add([]byte("exact ties and denormals......................................"), uint32(0x33800000), uint8(2), uint8(3))
}

func FuzzFakeQuant(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, amaxBits uint32, numBits, flags uint8) {
		src, amax, fm := floats(data), math.Float32frombits(amaxBits&^(1<<31)), format(numBits, flags) // any non-negative amax, NaN and Inf included
		eachImpl(t, func() []float32 {
			dst := make([]float32, len(src))
			fakequant.FakeQuant(dst, src, amax, fm)
			return dst
		}, func(impl cpufeat.Impl, got, want []float32) {
			for i := range want {
				if !same(got[i], want[i]) {
					t.Fatalf("%v %v amax=%v x[%d]=%v: got %v want %v", impl, fm, amax, i, src[i], got[i], want[i])
				}
			}
		})
	})
}

func FuzzFakeQuantPerChannel(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, amaxBits uint32, numBits, flags uint8) {
		src, fm := floats(data), format(numBits, flags)
		c := int(flags>>2)%5 + 1
		inner := int(numBits>>5) + 1
		if len(src) < c*inner {
			return
		}
		src = src[:len(src)/(c*inner)*(c*inner)]
		amax := make([]float32, c)
		for i := range amax {
			amax[i] = math.Float32frombits(amaxBits >> (i * 3) &^ (1 << 31))
		}
		eachImpl(t, func() []float32 {
			dst := make([]float32, len(src))
			if err := fakequant.FakeQuantPerChannel(dst, src, amax, inner, fm); err != nil {
				t.Fatal(err)
			}
			return dst
		}, func(impl cpufeat.Impl, got, want []float32) {
			for i := range want {
				if !same(got[i], want[i]) {
					t.Fatalf("%v %v amax=%v inner=%d x[%d]=%v: got %v want %v", impl, fm, amax, inner, i, src[i], got[i], want[i])
				}
			}
		})
	})
}

func FuzzQuantInt8(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, amaxBits uint32, numBits, flags uint8) {
		src, amax := floats(data), math.Float32frombits(amaxBits)
		fm := fakequant.Format{NumBits: int(numBits)%7 + 2, NarrowRange: flags&2 != 0}
		type result struct {
			q     []int8
			scale float32
		}
		eachImpl(t, func() result {
			q := make([]int8, len(src))
			return result{q, fakequant.QuantInt8(q, src, amax, fm)}
		}, func(impl cpufeat.Impl, got, want result) {
			if !same(got.scale, want.scale) {
				t.Fatalf("%v scale %v want %v", impl, got.scale, want.scale)
			}
			for i := range want.q {
				if got.q[i] != want.q[i] {
					t.Fatalf("%v %v amax=%v x[%d]=%v: got %d want %d", impl, fm, amax, i, src[i], got.q[i], want.q[i])
				}
			}
		})
	})
}

func FuzzDequant(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, scaleBits uint32, _, _ uint8) {
		q := make([]int8, len(data))
		for i, b := range data {
			q[i] = int8(b)
		}
		scale := math.Float32frombits(scaleBits)
		eachImpl(t, func() []float32 {
			dst := make([]float32, len(q))
			fakequant.Dequant(dst, q, scale)
			return dst
		}, func(impl cpufeat.Impl, got, want []float32) {
			for i := range want {
				if !same(got[i], want[i]) {
					t.Fatalf("%v scale=%v q[%d]=%d: got %v want %v", impl, scale, i, q[i], got[i], want[i])
				}
			}
		})
	})
}

func FuzzSTE(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, amaxBits uint32, _, _ uint8) {
		all := floats(data)
		x, dy := all[:len(all)/2], all[len(all)/2:len(all)/2*2]
		amax := math.Float32frombits(amaxBits)
		eachImpl(t, func() []float32 {
			dst := make([]float32, len(x))
			fakequant.STE(dst, x, dy, amax)
			return dst
		}, func(impl cpufeat.Impl, got, want []float32) {
			for i := range want {
				if !same(got[i], want[i]) {
					t.Fatalf("%v amax=%v x[%d]=%v: got %v want %v", impl, amax, i, x[i], got[i], want[i])
				}
			}
		})
	})
}

func FuzzAbsMax(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, _ uint32, _, _ uint8) {
		x := floats(data)
		eachImpl(t, func() float32 { return reduce.AbsMax(x) }, func(impl cpufeat.Impl, got, want float32) {
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("%v: AbsMax of %d elements = %v (%#x), want %v (%#x)", impl, len(x), got, math.Float32bits(got), want, math.Float32bits(want))
			}
		})
	})
}

// FuzzQuantizeLinearCodes pins every kernel family's QuantizeLinear into
// int8 or uint8 codes (any scale, NaN, infinities and negative ones
// included; any zero point and code range of the type) to the generic
// loop and to the scalar fakequant.QuantizeLinear.
func FuzzQuantizeLinearCodes(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, scaleBits uint32, zp, flags uint8) {
		src, scale := floats(data), math.Float32frombits(scaleBits)
		qmin, qmax, z := int32(0), int32(255), int32(zp)
		if flags&1 != 0 { // int8
			qmin, qmax, z = -128, 127, int32(int8(zp))
		}
		if flags&2 != 0 { // a 4-bit range held in bytes
			qmin, qmax = qmin/16, qmax/16
			z = min(max(z, qmin), qmax)
		}
		eachImpl(t, func() []int32 {
			if flags&1 != 0 {
				return quantizeLinearCodes[int8](t, src, scale, z, qmin, qmax)
			}
			return quantizeLinearCodes[uint8](t, src, scale, z, qmin, qmax)
		}, func(impl cpufeat.Impl, got, want []int32) {
			for i, x := range src {
				if s := fakequant.QuantizeLinear(x, scale, z, qmin, qmax); got[i] != want[i] || want[i] != s {
					t.Fatalf("%v scale=%v zp=%d [%d, %d] x[%d]=%v: got %d, generic %d, QuantizeLinear %d", impl, scale, z, qmin, qmax, i, x, got[i], want[i], s)
				}
			}
		})
	})
}

// quantizeLinearCodes returns fakequant.QuantizeLinearCodes of src as
// codes of type T, widened.
func quantizeLinearCodes[T int8 | uint8](t *testing.T, src []float32, scale float32, z, qmin, qmax int32) []int32 {
	dst := make([]T, len(src))
	if err := fakequant.QuantizeLinearCodes(dst, src, scale, z, qmin, qmax); err != nil {
		t.Fatal(err)
	}
	out := make([]int32, len(src))
	for i, v := range dst {
		out[i] = int32(v)
	}
	return out
}
