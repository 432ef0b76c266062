package qgemm

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/onnx"
)

// TestORTAgreement runs QLinearConv (dense, grouped, depthwise, strided)
// and QLinearMatMul in ONNX Runtime (tools/onnxcheck, full optimisation,
// one thread) and through this package on random data with per-channel
// weight scales, and requires the same codes: ONNX Runtime's integer
// kernels requantize as this package does (float32(C)·scale, clamp, round
// half to even), with the scales computed the same way in float32,
// x_scale·w_scale[n]/y_scale. The u8 inputs span 0-255, or 0-127 on a
// CPU where ONNX Runtime's integer kernels saturate (exttool.ORTIntegerExact
// false): there its VPMADDUBSW sums two products of a u8 and an s8 in
// int16, which 127·127·2 cannot overflow and 255·127·2 does.
func TestORTAgreement(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ONNX Runtime")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	xCodes := 256
	if !exttool.ORTIntegerExact() {
		xCodes = 128
	}
	convs := []Conv{
		{Batch: 1, InC: 64, InH: 14, InW: 14, OutC: 32, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{Batch: 2, InC: 24, InH: 9, InW: 11, OutC: 36, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 3},
		{Batch: 1, InC: 32, InH: 10, InW: 10, OutC: 32, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 32},
		{Batch: 1, InC: 16, InH: 7, InW: 7, OutC: 48, KH: 1, KW: 1},
	}
	for _, c := range convs {
		c = c.normal()
		x := make([]uint8, c.Batch*c.InC*c.InH*c.InW)
		for i := range x {
			x[i] = uint8(rng.IntN(xCodes))
		}
		w := make([]int8, c.OutC*c.InC/c.Groups*c.KH*c.KW)
		for i := range w {
			w[i] = int8(rng.IntN(255) - 127)
		}
		bias := make([]int32, c.OutC)
		ws := make([]float32, c.OutC)
		for i := range ws {
			bias[i] = rng.Int32N(4096) - 2048
			ws[i] = float32(0.002 + 0.01*rng.Float64())
		}
		const xs, xz, ys, yz = 0.02, 7, 0.25, 120
		nodeAttrs := []onnx.Attribute{
			onnx.IntsAttr("pads", int64(c.PadTop), int64(c.PadLeft), int64(c.PadBottom), int64(c.PadRight)),
			onnx.IntsAttr("strides", int64(c.StrideH), int64(c.StrideW)),
			onnx.IntAttr("group", int64(c.Groups)),
		}
		model := oneNodeModel(t, "QLinearConv", nodeAttrs,
			[]string{"x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"},
			[]onnx.Tensor{
				newTensor(t, "xs", nil, []float32{xs}), newTensor(t, "xz", nil, []uint8{xz}),
				newTensor(t, "w", []int64{int64(c.OutC), int64(c.InC / c.Groups), int64(c.KH), int64(c.KW)}, w),
				newTensor(t, "ws", []int64{int64(c.OutC)}, ws), newTensor(t, "wz", []int64{int64(c.OutC)}, make([]int8, c.OutC)),
				newTensor(t, "ys", nil, []float32{ys}), newTensor(t, "yz", nil, []uint8{yz}),
				newTensor(t, "b", []int64{int64(c.OutC)}, bias),
			},
			[]int64{int64(c.Batch), int64(c.InC), int64(c.InH), int64(c.InW)},
			[]int64{int64(c.Batch), int64(c.OutC), int64(c.OutH()), int64(c.OutW())})
		xi := make([]int64, len(x))
		for i, v := range x {
			xi[i] = int64(v)
		}
		got := exttool.RunORT(t, model, "all", map[string]exttool.Input{
			"x": {Dims: []int{c.Batch, c.InC, c.InH, c.InW}, Type: "uint8", Ints: xi}})["y"].Ints

		scale := make([]float32, c.OutC)
		for i := range scale {
			scale[i] = xs * ws[i] / ys
		}
		forEachFamily(t, func(t *testing.T, _ family) {
			cw, err := PackConv(c, w, []int8{0})
			if err != nil {
				t.Fatal(err)
			}
			y := make([]uint8, c.Batch*c.OutC*c.OutH()*c.OutW())
			if err := ConvQuant(1, cw, NCHW, NCHW, x, xz, bias, Requant{Scale: scale, ZeroPoint: yz, Min: 0, Max: 255}, y); err != nil {
				t.Fatal(err)
			}
			compareORT(t, "QLinearConv", c, y, got)
		})
	}

	m, k, n := 8, 96, 40
	a := make([]uint8, m*k)
	for i := range a {
		a[i] = uint8(rng.IntN(xCodes))
	}
	b := make([]int8, k*n)
	for i := range b {
		b[i] = int8(rng.IntN(255) - 127)
	}
	const as, az, bs, ys, yz = 0.03, 100, 0.004, 0.3, 128
	model := oneNodeModel(t, "QLinearMatMul", nil,
		[]string{"x", "as", "az", "b", "bs", "bz", "ys", "yz"},
		[]onnx.Tensor{
			newTensor(t, "as", nil, []float32{as}), newTensor(t, "az", nil, []uint8{az}),
			newTensor(t, "b", []int64{int64(k), int64(n)}, b),
			newTensor(t, "bs", nil, []float32{bs}), newTensor(t, "bz", nil, []int8{0}),
			newTensor(t, "ys", nil, []float32{ys}), newTensor(t, "yz", nil, []uint8{yz}),
		},
		[]int64{int64(m), int64(k)}, []int64{int64(m), int64(n)})
	ai := make([]int64, len(a))
	for i, v := range a {
		ai[i] = int64(v)
	}
	got := exttool.RunORT(t, model, "all", map[string]exttool.Input{"x": {Dims: []int{m, k}, Type: "uint8", Ints: ai}})["y"].Ints
	forEachFamily(t, func(t *testing.T, _ family) {
		w, err := PackMatrix(b, k, n, n, false, []int8{0})
		if err != nil {
			t.Fatal(err)
		}
		y := make([]uint8, m*n)
		if err := MatMulQuant(1, Matrix[uint8]{Data: a, Rows: m, Stride: k, ZeroPoint: az}, w, nil,
			Requant{Scale: []float32{as * bs / ys}, ZeroPoint: yz, Min: 0, Max: 255}, y, n); err != nil {
			t.Fatal(err)
		}
		compareORT(t, "QLinearMatMul", Conv{}, y, got)
	})
}

// compareORT requires y to equal ONNX Runtime's codes.
func compareORT(t *testing.T, op string, c Conv, y []uint8, ort []int64) {
	t.Helper()
	if len(ort) != len(y) {
		t.Fatalf("%s %+v: ONNX Runtime gave %d values, want %d", op, c, len(ort), len(y))
	}
	for i, v := range y {
		if int64(v) != ort[i] {
			t.Fatalf("%s %+v: output %d = %d, ONNX Runtime %d", op, c, i, v, ort[i])
		}
	}
	cases++
}

func newTensor[T onnx.Element](t *testing.T, name string, dims []int64, v []T) onnx.Tensor {
	t.Helper()
	x, err := onnx.NewTensor(name, dims, v)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// oneNodeModel writes a model with one node of op (opset 13): input "x"
// (uint8, dims in), every other input an initializer, output "y" (uint8,
// dims out), and returns its path.
func oneNodeModel(t *testing.T, op string, attrs []onnx.Attribute, inputs []string, inits []onnx.Tensor, in, out []int64) string {
	t.Helper()
	ir, err := onnx.IRVersionForOpset(13)
	if err != nil {
		t.Fatal(err)
	}
	m := &onnx.Model{
		IRVersion:   ir,
		OpsetImport: []onnx.OperatorSetID{{Version: 13}},
		Graph: &onnx.Graph{
			Name:        op,
			Node:        []onnx.Node{onnx.NewNode(op, "op", inputs, []string{"y"}, attrs...)},
			Initializer: inits,
			Input:       []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Uint8, onnx.Dims(in...)...)},
			Output:      []onnx.ValueInfo{onnx.TensorValueInfo("y", onnx.Uint8, onnx.Dims(out...)...)},
		},
	}
	path := filepath.Join(t.TempDir(), op+".onnx")
	if err := onnx.WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	return path
}
