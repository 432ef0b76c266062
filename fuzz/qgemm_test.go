package fuzz

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/internal/qgemm"
	"github.com/tensorquant/tensorquant/internal/vecmath"
)

// cycle returns n values of T taken from b in turn (zeros when b is empty).
func cycle[T qgemm.Int8](b []byte, n, skip int) []T {
	out := make([]T, n)
	if len(b) == 0 {
		return out
	}
	for i := range out {
		out[i] = T(b[(i+skip)%len(b)])
	}
	return out
}

// eachFamily runs run under internal/qgemm's generic family, then under
// each of its other kernel families (both 512-bit ones on a CPU with
// AVX512-VNNI, both NEON ones with the dot product), and checks each
// result against the generic one.
func eachFamily(run func() qgemmOut, check func(fam string, got, want qgemmOut)) {
	restore := qgemm.Use("generic")
	want := run()
	restore()
	for _, fam := range qgemm.Families()[1:] {
		restore := qgemm.Use(fam)
		got := run()
		restore()
		check(fam, got, want)
	}
}

// qgemmOut is what one implementation computed.
type qgemmOut struct {
	err error
	c   []int32
	y   []byte
	f   []uint32
	fq  []byte // codes through floats and an activation (ConvFloatQuant)
}

// equalOut reports whether two outputs agree bit for bit.
func equalOut(a, b qgemmOut) bool {
	return fmt.Sprint(a.err) == fmt.Sprint(b.err) && slices.Equal(a.c, b.c) && slices.Equal(a.y, b.y) && slices.Equal(a.f, b.f) && slices.Equal(a.fq, b.fq)
}

func floatBits(f []float32) []uint32 {
	out := make([]uint32, len(f))
	for i, v := range f {
		out[i] = math.Float32bits(v)
	}
	return out
}

// matmulTyped packs the weights and runs the three outputs, for
// activations A, weights W and quantized output Y.
func matmulTyped[A, W, Y qgemm.Int8](data []byte, m, n, k int, za, zb byte, perColumn, bias bool, scale float32) qgemmOut {
	zps := []W{W(zb)}
	if perColumn {
		zps = cycle[W](data, n, 7)
	}
	w, err := qgemm.PackMatrix(cycle[W](data, k*n, 3), k, n, n, false, zps)
	if err != nil {
		return qgemmOut{err: err}
	}
	a := qgemm.Matrix[A]{Data: cycle[A](data, m*k, 0), Rows: m, Stride: k, ZeroPoint: A(za)}
	var b []int32
	if bias {
		b = make([]int32, n)
		for j, v := range cycle[int8](data, n, 11) {
			b[j] = int32(v) << 12
		}
	}
	var out qgemmOut
	out.c = make([]int32, m*n)
	if out.err = qgemm.MatMulInt32(1, a, w, b, out.c, n); out.err != nil {
		return out
	}
	y := make([]Y, m*n)
	lo, hi := int32(0), int32(255)
	if Y(0)-1 < 0 {
		lo, hi = -128, 127
	}
	q := qgemm.Requant{Scale: []float32{scale}, ZeroPoint: (lo + hi) / 2, Min: lo, Max: hi}
	if out.err = qgemm.MatMulQuant(1, a, w, b, q, y, n); out.err != nil {
		return out
	}
	out.y = make([]byte, len(y))
	for i, v := range y {
		out.y[i] = byte(v)
	}
	f := make([]float32, m*n)
	out.err = qgemm.MatMulFloat(1, a, w, qgemm.Dequant{Scale: []float32{scale}}, f, n)
	out.f = floatBits(f)
	return out
}

// FuzzQGemm pins every kernel family of internal/qgemm to the generic one
// on products of any shape up to 20×80×70 with any bytes, zero points and
// types, and the generic one's int32 output to the definition in int64.
func FuzzQGemm(f *testing.F) {
	f.Add([]byte{0, 255, 128, 127, 1, 2, 3}, uint8(7), uint8(9), uint8(13), uint8(3), uint8(250), uint8(0), uint32(0x3b800000))
	f.Add([]byte{255}, uint8(6), uint8(64), uint8(68), uint8(0), uint8(127), uint8(4), uint32(0x3a800000))
	f.Add([]byte("the quick brown fox jumps over the lazy dog"), uint8(19), uint8(79), uint8(33), uint8(128), uint8(128), uint8(0xff), uint32(0x3f000000))
	f.Fuzz(func(t *testing.T, data []byte, m8, n8, k8, za, zb, flags uint8, scaleBits uint32) {
		m, n, k := 1+int(m8)%20, 1+int(n8)%80, int(k8)%70
		scale := math.Float32frombits(scaleBits)
		perColumn, bias := flags&16 != 0, flags&32 != 0
		run := func() qgemmOut {
			switch flags % 4 {
			case 0:
				return matmulTyped[uint8, int8, uint8](data, m, n, k, za, zb, perColumn, bias, scale)
			case 1:
				return matmulTyped[int8, int8, int8](data, m, n, k, za, zb, perColumn, bias, scale)
			case 2:
				return matmulTyped[uint8, uint8, int8](data, m, n, k, za, zb, perColumn, bias, scale)
			}
			return matmulTyped[int8, uint8, uint8](data, m, n, k, za, zb, perColumn, bias, scale)
		}
		if flags%4 == 0 && !bias && !perColumn {
			restore := qgemm.Use("generic")
			got := run()
			restore()
			if got.err == nil {
				a, b := cycle[uint8](data, m*k, 0), cycle[int8](data, k*n, 3)
				for i := range m {
					for j := range n {
						var s int64
						for p := range k {
							s += (int64(a[i*k+p]) - int64(za)) * (int64(b[p*n+j]) - int64(int8(zb)))
						}
						if got.c[i*n+j] != int32(s) {
							t.Fatalf("generic C[%d][%d] = %d, want %d", i, j, got.c[i*n+j], s)
						}
					}
				}
			}
		}
		eachFamily(run, func(fam string, got, want qgemmOut) {
			if !equalOut(got, want) {
				t.Fatalf("%s differs from generic (%d×%d×%d, flags %#x, scale %v): %+v, want %+v", fam, m, n, k, flags, scale, got, want)
			}
		})
	})
}

// FuzzQConv pins every kernel family's convolutions (grouped, depthwise,
// strided, dilated, padded, every pair of input and output layouts) to
// the generic ones.
func FuzzQConv(f *testing.F) {
	f.Add([]byte{0, 255, 128, 127, 1, 2, 3}, uint16(0x1234), uint16(0x5678), uint8(3), uint8(0))
	f.Add([]byte("depthwise"), uint16(0xffff), uint16(0x0001), uint8(0), uint8(0xc1))
	// Depthwise 3×3 and 5×5 windows of dilation 1 on 12 and 16 channels,
	// strides 1 and 2: the AVX2 family's row kernels.
	f.Add([]byte{9, 200, 31, 77, 255, 0, 128}, uint16(8197), uint16(5642), uint8(7), uint8(0x41))
	f.Add([]byte{1, 2, 254, 129, 64}, uint16(8195), uint16(5772), uint8(250), uint8(0x07))
	f.Add([]byte{100, 3, 255, 255, 0, 17}, uint16(16387), uint16(6409), uint8(128), uint8(0x43))
	f.Add([]byte{77, 0, 255, 1}, uint16(16387), uint16(6279), uint8(0), uint8(0x05))
	f.Fuzz(func(t *testing.T, data []byte, s1, s2 uint16, zx, flags uint8) {
		groups := 1 + int(s2>>12)%4
		c := qgemm.Conv{
			Batch: 1 + int(flags>>6)%2, InC: groups * (1 + int(s1)%9), InH: 1 + int(s1>>4)%9, InW: 1 + int(s1>>8)%11,
			KH: 1 + int(s1>>12)%5, KW: 1 + int(s2)%5, StrideH: 1 + int(s2>>2)%2, StrideW: 1 + int(s2>>3)%3,
			DilationH: 1 + int(s2>>5)%2, DilationW: 1 + int(s2>>6)%2, Groups: groups,
		}
		c.OutC = groups * (1 + int(s2>>7)%9)
		if flags&1 != 0 { // depthwise
			c.OutC = c.InC
			c.Groups = c.InC
		}
		c.PadTop, c.PadLeft = int(s2>>9)%c.KH, int(s2>>10)%c.KW
		c.PadBottom, c.PadRight = int(s2>>11)%c.KH, int(s1>>3)%c.KW
		lin, lout := qgemm.Layout(flags>>1%2), qgemm.Layout(flags>>2%2)
		run := func() qgemmOut {
			cw, err := qgemm.PackConv(c, cycle[int8](data, c.OutC*c.InC/c.Groups*c.KH*c.KW, 5), cycle[int8](data, c.OutC, 1))
			if err != nil {
				return qgemmOut{err: err}
			}
			x := cycle[uint8](data, c.Batch*c.InC*c.InH*c.InW, 0)
			var out qgemmOut
			out.c = make([]int32, c.Batch*c.OutC*c.OutH()*c.OutW())
			if out.err = qgemm.ConvInt32(1, cw, lin, lout, x, zx, nil, out.c); out.err != nil {
				return out
			}
			out.y = make([]byte, len(out.c))
			q := qgemm.Requant{Scale: []float32{1.0 / 512}, ZeroPoint: 128, Min: 0, Max: 255}
			if out.err = qgemm.ConvQuant(1, cw, lin, lout, x, zx, nil, q, out.y); out.err != nil {
				return out
			}
			out.fq = make([]byte, len(out.c))
			d := qgemm.Dequant{Scale: []float32{1.0 / 512}, Act: func(x []float32) { vecmath.SiLU(x, x) }}
			out.err = qgemm.ConvFloatQuant(1, cw, lin, lout, x, zx, d, qgemm.Quantize{Scale: 1.0 / 64, ZeroPoint: 128}, out.fq)
			return out
		}
		eachFamily(run, func(fam string, got, want qgemmOut) {
			if !equalOut(got, want) {
				t.Fatalf("%s differs from generic (%+v, layouts %d→%d): %+v, want %+v", fam, c, lin, lout, got, want)
			}
		})
	})
}
