package fakequant

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tensorquant/tensorquant/tensor"
)

// TestFormatValidate pins the one format check every entry point uses:
// a format needs a level besides 0.
func TestFormatValidate(t *testing.T) {
	for _, c := range []struct {
		f  Format
		ok bool
	}{
		{Format{NumBits: 0}, false},
		{Format{NumBits: 0, Unsigned: true}, false},
		{Format{NumBits: 1}, false},
		{Format{NumBits: 1, NarrowRange: true}, false},
		{Format{NumBits: -1}, false},
		{Format{NumBits: 33}, false},
		{Format{NumBits: 64, Unsigned: true}, false},
		{Format{NumBits: 1, Unsigned: true}, true},
		{Format{NumBits: 2}, true},
		{Format{NumBits: 8, NarrowRange: true}, true},
		{Format{NumBits: 32}, true},
	} {
		if err := c.f.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: Validate() = %v", c.f, err)
		}
	}
}

// TestEntryPointsRefuseBadArguments checks that every function taking a
// format, an amax or a count refuses what Validate, the amax check and the
// count check refuse, with an error where it returns one and a panic in
// the slice kernels (whose contract makes bad arguments a programmer
// error). Before, NumBits 0 returned amax for every input, signed NumBits
// 1 NaN, FakeQuantPerChannel accepted NumBits 33, -1 and 64, STEGrad amax
// -1, and NumBlocks(-6, 3, 2) returned -4.
func TestEntryPointsRefuseBadArguments(t *testing.T) {
	x := &tensor.Tensor{Shape: []int{2}, Data: []float32{0.5, -0.25}}
	one := tensor.Scalar(1)
	buf := make([]float32, 6)
	for _, f := range []Format{{NumBits: 0}, {NumBits: 1}, {NumBits: 33}, {NumBits: -1}, {NumBits: 64}} {
		if _, err := FakeTensorQuant(x, one, f); err == nil || !strings.Contains(err.Error(), "num_bits") {
			t.Errorf("FakeTensorQuant %+v: %v", f, err)
		}
		if _, _, err := TensorQuant(x, one, f); err == nil {
			t.Errorf("TensorQuant %+v accepted", f)
		}
		if err := FakeQuantPerChannel(buf, buf, []float32{1, 2}, 3, f); err == nil || !strings.Contains(err.Error(), "num_bits") {
			t.Errorf("FakeQuantPerChannel %+v: %v", f, err)
		}
		if err := FakeQuantBlock(buf, buf, []float32{1, 2}, 6, 3, f); err == nil {
			t.Errorf("FakeQuantBlock %+v accepted", f)
		}
		mustPanic(t, "FakeQuant", func() { FakeQuant(buf, buf, 1, f) })
		mustPanic(t, "QuantInt8", func() { QuantInt8(make([]int8, 6), buf, 1, f) })
	}
	neg := tensor.Scalar(-1)
	if _, err := STEGrad(x, neg, x); !errors.Is(err, ErrNegativeAmax) {
		t.Errorf("STEGrad with amax -1: %v", err)
	}
	if _, err := FakeTensorQuant(x, neg, Int8); !errors.Is(err, ErrNegativeAmax) {
		t.Errorf("FakeTensorQuant with amax -1: %v", err)
	}
	if err := FakeQuantPerChannel(buf, buf, []float32{1, -2}, 3, Int8); !errors.Is(err, ErrNegativeAmax) || !strings.Contains(err.Error(), "index 1") {
		t.Errorf("FakeQuantPerChannel with amax -2: %v", err)
	}
	mustPanic(t, "FakeQuant amax -1", func() { FakeQuant(buf, buf, -1, Int8) })
	mustPanic(t, "QuantInt8 amax -1", func() { QuantInt8(make([]int8, 6), buf, -1, Int8) })
	mustPanic(t, "STE amax -1", func() { STE(buf, buf, buf, -1) })
	for _, c := range [][3]int{{-6, 3, 2}, {-1, 1, 1}} {
		if n, err := NumBlocks(c[0], c[1], c[2]); err == nil {
			t.Errorf("NumBlocks%v = %d", c, n)
		}
	}
	for n, want := range map[int]int{-6: 0, -1: 0, 0: 0, 1: 1, 4: 2, 5: 3} {
		if got := PackedInt4Len(n); got != want {
			t.Errorf("PackedInt4Len(%d) = %d, want %d", n, got, want)
		}
	}
	// NaN amax stays allowed, as in the original (it quantizes to NaN).
	nan := tensor.Scalar(float32(math.NaN()))
	if y, err := FakeTensorQuant(x, nan, Int8); err != nil || !math.IsNaN(float64(y.Data[0])) {
		t.Errorf("FakeTensorQuant with a NaN amax: %v, %v", y, err)
	}
}

func mustPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", name)
		}
	}()
	f()
}

// TestAmaxGrowsOutput: the original broadcasts x against amax even when
// that grows the result (x*scale), and autograd sums the gradient back to
// x's shape. Before, an amax that grew the shape was refused ("amax shape
// [1] would broadcast input shape [] to [1]"). The values are those of
// torch 1.13 on the same formula (8 bits, narrow range).
func TestAmaxGrowsOutput(t *testing.T) {
	f := Format{NumBits: 8, NarrowRange: true}
	bits := func(v []float32) []uint32 {
		out := make([]uint32, len(v))
		for i, x := range v {
			out[i] = math.Float32bits(x)
		}
		return out
	}
	for _, c := range []struct {
		name        string
		x, amax, dy *tensor.Tensor
		shape       []int
		q           []float32
		fakeBits    []uint32
		scale, dx   []float32
		dxShape     []int
	}{
		{
			name: "0-d x, amax (1,)", x: tensor.Scalar(0.5), amax: &tensor.Tensor{Shape: []int{1}, Data: []float32{1}},
			dy: &tensor.Tensor{Shape: []int{1}, Data: []float32{3}}, shape: []int{1},
			q: []float32{64}, fakeBits: []uint32{1057030660}, scale: []float32{127}, dx: []float32{3}, dxShape: []int{},
		},
		{
			name: "x (2,1), amax (3,)", x: &tensor.Tensor{Shape: []int{2, 1}, Data: []float32{0.5, 2}},
			amax: &tensor.Tensor{Shape: []int{3}, Data: []float32{1, 3, 0.25}},
			dy:   &tensor.Tensor{Shape: []int{2, 3}, Data: []float32{1, 2, 4, 8, 16, 32}}, shape: []int{2, 3},
			q:        []float32{64, 21, 127, 127, 85, 127},
			fakeBits: []uint32{1057030660, 1056832504, 1048576000, 1065353216, 1073774850, 1048576000},
			scale:    []float32{127, 127.0 / 3, 508}, dx: []float32{3, 16}, dxShape: []int{2, 1},
		},
	} {
		same := func(what string, want, got any) {
			t.Helper()
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("%s: %s (-want +got):\n%s", c.name, what, d)
			}
		}
		q, scale, err := TensorQuant(c.x, c.amax, f)
		if err != nil {
			t.Fatalf("%s: TensorQuant: %v", c.name, err)
		}
		same("TensorQuant shape", c.shape, q.Shape)
		same("TensorQuant codes", c.q, q.Data)
		same("scale shape", c.amax.Shape, scale.Shape)
		same("scale", c.scale, scale.Data)
		y, err := FakeTensorQuant(c.x, c.amax, f)
		if err != nil {
			t.Fatalf("%s: FakeTensorQuant: %v", c.name, err)
		}
		same("FakeTensorQuant shape", c.shape, y.Shape)
		same("FakeTensorQuant bits", c.fakeBits, bits(y.Data))
		dx, err := STEGrad(c.x, c.amax, c.dy)
		if err != nil {
			t.Fatalf("%s: STEGrad: %v", c.name, err)
		}
		same("STEGrad shape", c.dxShape, dx.Shape)
		same("STEGrad", c.dx, dx.Data)
		if _, err := STEGrad(c.x, c.amax, c.x); err == nil && !tensor.SameShape(c.x.Shape, c.shape) {
			t.Errorf("%s: STEGrad accepted a gradient shaped like x, not like the output", c.name)
		}
		fp8, err := FakeTensorQuantFP8(c.x, c.amax, E4M3FN)
		if err != nil || !tensor.SameShape(fp8.Shape, c.shape) {
			t.Errorf("%s: FakeTensorQuantFP8 shape %v, %v", c.name, fp8, err)
		}
	}
	// The unsigned check sees every input, repeated or not.
	if _, err := FakeTensorQuant(tensor.Scalar(-1), &tensor.Tensor{Shape: []int{2}, Data: []float32{1, 1}}, Format{NumBits: 8, Unsigned: true}); !errors.Is(err, ErrNegativeInput) {
		t.Errorf("unsigned with a negative input repeated by broadcasting: %v", err)
	}
}
