package graph

import (
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// TestResizeValues checks hand-computed resizes: nearest upsampling (the
// torch export's Resize and the deprecated Upsample), linear with
// half_pixel and align_corners, antialiased downsampling, nearest on
// bytes.
func TestResizeValues(t *testing.T) {
	x := f32(s(1, 1, 2, 2), 1, 2, 3, 4)
	up := f32(s(1, 1, 4, 4), 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4)
	scales := f32(s(4), 1, 1, 2, 2)
	nearest := node("Resize", []string{"x", "", "scales"}, y, onnx.StringAttr("coordinate_transformation_mode", "asymmetric"),
		onnx.StringAttr("nearest_mode", "floor"))
	check(t, "Resize nearest", runNode(t, 13, nearest, x, nil, scales)[0], up)
	check(t, "Resize-10 nearest", runNode(t, 10, node("Resize", in(2), y), x, scales)[0], up)
	check(t, "Upsample-9", runNode(t, 9, node("Upsample", in(2), y), x, scales)[0], up)
	check(t, "Upsample-7", runNode(t, 7, node("Upsample", in(1), y, onnx.FloatsAttr("scales", 1, 1, 2, 2)), x)[0], up)

	row := f32(s(1, 4), 0, 1, 2, 3)
	linear := func(inputs []string, attrs ...onnx.Attribute) onnx.Node {
		return node("Resize", inputs, y, append(attrs, onnx.StringAttr("mode", "linear"))...)
	}
	byScales, bySizes := []string{"x", "", "scales"}, []string{"x", "", "", "sizes"}
	got := runNode(t, 13, linear(byScales), row, nil, f32(s(2), 1, 2))[0]
	check(t, "linear half_pixel", got, f32(s(1, 8), 0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3))
	got = runNode(t, 13, linear(bySizes, onnx.StringAttr("coordinate_transformation_mode", "align_corners")), row, nil, nil, i64(s(2), 1, 7))[0]
	check(t, "linear align_corners", got, f32(s(1, 7), 0, 0.5, 1, 1.5, 2, 2.5, 3))
	// Antialias, scale 1/2: each output averages 4 inputs with weights
	// 1/8, 3/8, 3/8, 1/8 (the triangle stretched by 2), edges clamped.
	got = runNode(t, 18, linear(byScales, onnx.IntAttr("antialias", 1)), seq(1, 8), nil, f32(s(2), 1, 0.5))[0]
	check(t, "linear antialias", got, f32(s(1, 4), 0.625, 2.5, 4.5, 6.375))
	// axes: the scales of the named axes only.
	got = runNode(t, 18, node("Resize", []string{"x", "", "scales"}, y, onnx.IntsAttr("axes", 3, 2), onnx.StringAttr("nearest_mode", "floor"),
		onnx.StringAttr("coordinate_transformation_mode", "asymmetric")), x, nil, f32(s(2), 2, 2))[0]
	check(t, "Resize axes", got, up)

	b := u8(s(1, 1, 1, 4), 10, 20, 30, 40)
	got = runNode(t, 13, node("Resize", []string{"x", "", "", "sizes"}, y), b, nil, nil, i64(s(4), 1, 1, 1, 2))[0]
	// half_pixel, scale 1/2: x = 2j + 0.5, round_prefer_floor: 0, 2.
	check(t, "nearest UINT8", got, u8(s(1, 1, 1, 2), 10, 30))

	wantErr(t, 13, node("Resize", []string{"x", "", "scales", "sizes"}, y), "both given", x, nil, scales, i64(s(4), 1, 1, 4, 4))
	wantErr(t, 13, node("Resize", []string{"x"}, y), "neither scales nor sizes", x)
	wantErr(t, 13, node("Resize", []string{"x", "", "scales"}, y), "4 scales for 2 axes", row, nil, scales)
	wantErr(t, 9, node("Upsample", in(2), y), "at least 1 for Upsample", x, f32(s(4), 1, 1, 0.5, 1))
	wantErr(t, 18, node("Resize", []string{"x", "", "scales"}, y, onnx.IntAttr("antialias", 1)), "not nearest", x, nil, scales)
	wantErr(t, 13, node("Resize", []string{"x", "", "scales"}, y, onnx.StringAttr("coordinate_transformation_mode", "tf_half_pixel_for_nn")),
		"is not one of", x, nil, scales)
	wantErr(t, 13, node("Resize", []string{"x", "", "scales"}, y, onnx.StringAttr("mode", "linear")), "element type UINT8 is not supported", b, nil, scales)
}

// TestResizeInfer checks that sizes computed from the input's shape (as
// torch exports F.interpolate(size=...)) give a known output shape with a
// symbolic batch.
func TestResizeInfer(t *testing.T) {
	m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{
		Input: []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.DimParam("N"), onnx.DimValue(3), onnx.DimValue(4), onnx.DimValue(4))},
		Initializer: []onnx.Tensor{
			constT(t, "starts", i64(s(1), 0)), constT(t, "ends", i64(s(1), 2)), constT(t, "hw", i64(s(2), 8, 6)),
		},
		Output: []onnx.ValueInfo{{Name: "y"}},
		Node: []onnx.Node{
			onnx.NewNode("Shape", "shape", []string{"x"}, []string{"s"}),
			onnx.NewNode("Slice", "slice", []string{"s", "starts", "ends"}, []string{"nc"}),
			onnx.NewNode("Concat", "concat", []string{"nc", "hw"}, []string{"sizes"}, onnx.IntAttr("axis", 0)),
			onnx.NewNode("Resize", "resize", []string{"x", "", "", "sizes"}, []string{"y"}, onnx.StringAttr("mode", "linear")),
		},
	}}
	g := importModel(t, m)
	if got := shapeOf(g, "y"); got != "[N 3 8 6]" {
		t.Errorf("Resize to computed sizes: inferred %s, want [N 3 8 6]", got)
	}
	sess, err := NewSession(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Run(map[string]*Tensor{"x": seq(2, 3, 4, 4)})
	if err != nil {
		t.Fatal(err)
	}
	if got := out["y"].Shape; !slices.Equal(got, s(2, 3, 8, 6)) {
		t.Errorf("Resize to computed sizes: shape %v, want [2 3 8 6]", got)
	}
}
