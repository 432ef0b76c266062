package qgemm

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// TestErrors checks that bad arguments give errors that name the
// offending value (wrapping ErrShape for shapes), never panics.
func TestErrors(t *testing.T) {
	w, err := PackMatrix([]int8{1, 2, 3, 4, 5, 6}, 2, 3, 3, false, []int8{0})
	if err != nil {
		t.Fatal(err)
	}
	conv := Conv{Batch: 1, InC: 2, InH: 3, InW: 3, OutC: 2, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
	cw, err := PackConv(conv, make([]int8, 2*2*9), []int8{0})
	if err != nil {
		t.Fatal(err)
	}
	a := Matrix[uint8]{Data: make([]uint8, 4), Rows: 2, Stride: 2}
	y := make([]uint8, 6)
	q := Requant{Scale: []float32{0.5}, ZeroPoint: 10, Min: 0, Max: 255}
	x := make([]uint8, 18)
	yc := make([]uint8, 18)
	for _, c := range []struct {
		name, want string
		shape      bool
		f          func() error
	}{
		{"negative k", "of -1×3", true, func() error { _, err := PackMatrix([]int8{}, -1, 3, 3, false, []int8{0}); return err }},
		{"k over MaxK", "33026", true, func() error {
			_, err := PackMatrix(make([]int8, MaxK+1), MaxK+1, 1, 1, false, []int8{0})
			return err
		}},
		{"short weights", "needs 6", true, func() error { _, err := PackMatrix(make([]int8, 5), 2, 3, 3, false, []int8{0}); return err }},
		{"small ld", "row stride 2", true, func() error { _, err := PackMatrix(make([]int8, 6), 2, 3, 2, false, []int8{0}); return err }},
		{"zero points", "2 zero points", true, func() error { _, err := PackMatrix(make([]int8, 6), 2, 3, 3, false, []int8{0, 0}); return err }},
		{"nil weights", "nil weights", false, func() error { return MatMulQuant(1, a, nil, nil, q, y, 3) }},
		{"conv weights", "convolution weights", false, func() error { return MatMulInt32(1, a, cw.groups[0], nil, make([]int32, 4), 2) }},
		{"threads", "0 threads", false, func() error { return MatMulQuant(0, a, w, nil, q, y, 3) }},
		{"short activations", "activations", true, func() error {
			return MatMulQuant(1, Matrix[uint8]{Data: make([]uint8, 3), Rows: 2, Stride: 2}, w, nil, q, y, 3)
		}},
		{"short output", "output", true, func() error { return MatMulQuant(1, a, w, nil, q, y[:5], 3) }},
		{"bias", "bias has 2", true, func() error { return MatMulQuant(1, a, w, []int32{1, 2}, q, y, 3) }},
		{"scales", "2 scale values", true, func() error {
			return MatMulQuant(1, a, w, nil, Requant{Scale: []float32{1, 2}, Max: 255}, y, 3)
		}},
		{"NaN scale", "NaN", false, func() error {
			return MatMulQuant(1, a, w, nil, Requant{Scale: []float32{float32(math.NaN())}, Max: 255}, y, 3)
		}},
		{"Inf scale", "+Inf", false, func() error {
			return MatMulFloat(1, a, w, Dequant{Scale: []float32{float32(math.Inf(1))}}, make([]float32, 6), 3)
		}},
		{"zero point range", "zero point 300", false, func() error {
			return MatMulQuant(1, a, w, nil, Requant{Scale: []float32{1}, ZeroPoint: 300, Max: 255}, y, 3)
		}},
		{"int8 zero point range", "zero point 200", false, func() error {
			return MatMulQuant(1, a, w, nil, Requant{Scale: []float32{1}, ZeroPoint: 200, Min: -128, Max: 127}, make([]int8, 6), 3)
		}},
		{"bounds", "[5, 4]", false, func() error {
			return MatMulQuant(1, a, w, nil, Requant{Scale: []float32{1}, ZeroPoint: 4, Min: 5, Max: 4}, y, 3)
		}},
		{"codes zero point range", "zero point 128", false, func() error {
			return MatMulFloatQuant(1, a, w, Dequant{Scale: []float32{1}}, Quantize{Scale: 1, ZeroPoint: 128}, make([]int8, 6), 3)
		}},
		{"codes nil weights", "nil weights", false, func() error {
			return MatMulFloatQuant(1, a, nil, Dequant{Scale: []float32{1}}, Quantize{Scale: 1}, y, 3)
		}},
		{"float bias", "bias has 2", true, func() error {
			return MatMulFloat(1, a, w, Dequant{Scale: []float32{1}, Bias: []float32{1, 2}}, make([]float32, 6), 3)
		}},
		{"conv zero channels", "input channels 0", true, func() error {
			c := conv
			c.InC = 0
			_, err := PackConv(c, nil, []int8{0})
			return err
		}},
		{"conv padding", "padding 3", true, func() error {
			c := conv
			c.PadTop = 3
			_, err := PackConv(c, make([]int8, 36), []int8{0})
			return err
		}},
		{"conv groups", "into 3 groups", true, func() error {
			c := conv
			c.Groups = 3
			_, err := PackConv(c, make([]int8, 36), []int8{0})
			return err
		}},
		{"conv small input", "smaller than the dilated kernel", true, func() error {
			c := conv
			c.PadTop, c.PadBottom, c.DilationH = 0, 0, 2
			_, err := PackConv(c, make([]int8, 36), []int8{0})
			return err
		}},
		{"conv window past the input", "input 3×3 is smaller than the dilated kernel 1×5", true, func() error {
			// (3+1 − 5)/2 + 1 truncates to 1 window: the fuzz target found
			// it reading past the padded input.
			c := Conv{Batch: 1, InC: 2, InH: 3, InW: 3, OutC: 2, KH: 1, KW: 3, StrideW: 2, DilationW: 2, PadRight: 1}
			_, err := PackConv(c, make([]int8, 12), []int8{0})
			return err
		}},
		{"conv weights length", "35 values", true, func() error { _, err := PackConv(conv, make([]int8, 35), []int8{0}); return err }},
		{"conv zero points", "3 weight zero points", true, func() error {
			_, err := PackConv(conv, make([]int8, 36), []int8{0, 0, 0})
			return err
		}},
		{"conv depth", "exceeds 33025", true, func() error {
			c := Conv{Batch: 1, InC: 4000, InH: 3, InW: 3, OutC: 1, KH: 3, KW: 3}
			_, err := PackConv(c, make([]int8, 36000), []int8{0})
			return err
		}},
		{"conv nil", "nil convolution", false, func() error { return ConvQuant(1, nil, NCHW, NCHW, x, 0, nil, q, yc) }},
		{"conv threads", "-1 threads", false, func() error { return ConvQuant(-1, cw, NCHW, NCHW, x, 0, nil, q, yc) }},
		{"conv layout", "layout 7", false, func() error { return ConvQuant(1, cw, Layout(7), Layout(7), x, 0, nil, q, yc) }},
		{"conv input", "input has 17", true, func() error { return ConvQuant(1, cw, NCHW, NCHW, x[:17], 0, nil, q, yc) }},
		{"conv output", "output has 19", true, func() error { return ConvInt32(1, cw, NHWC, NHWC, x, 0, nil, make([]int32, 19)) }},
		{"conv bias", "bias has 1", true, func() error { return ConvQuant(1, cw, NCHW, NCHW, x, 0, []int32{1}, q, yc) }},
		{"conv scales", "3 scale values", true, func() error {
			return ConvFloat(1, cw, NCHW, NCHW, x, 0, Dequant{Scale: []float32{1, 2, 3}}, make([]float32, 18))
		}},
		{"conv float bias", "bias has 3", true, func() error {
			return ConvFloat(1, cw, NCHW, NCHW, x, 0, Dequant{Scale: []float32{1}, Bias: []float32{1, 2, 3}}, make([]float32, 18))
		}},
		{"conv codes zero point range", "zero point -1", false, func() error {
			return ConvFloatQuant(1, cw, NCHW, NCHW, x, 0, Dequant{Scale: []float32{1}}, Quantize{Scale: 1, ZeroPoint: -1}, make([]uint8, 18))
		}},
	} {
		err := c.f()
		switch {
		case err == nil:
			t.Errorf("%s: no error", c.name)
		case !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: %q does not mention %q", c.name, err, c.want)
		case errors.Is(err, ErrShape) != c.shape:
			t.Errorf("%s: %q: errors.Is(err, ErrShape) = %v", c.name, err, !c.shape)
		}
	}
}
