package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/idx"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/quantize"
)

// Data sets in the forms users have them, for the graph inputs of a
// model: a .npy file (one array, samples along the first axis), a .npz
// archive with one array per input name, a directory of .npy files (or
// of .npz archives) joined along the first axis in name order, an IDX
// file of the MNIST family (plain or gzip), or raw little-endian float32
// with -shape. Samples are reshaped to the input's shape when their
// element count is the input's (an IDX image [N, 28, 28] for an input
// [N, 1, 28, 28]), and converted to its element type.

// readSamples reads the samples of every graph input from path (see
// above). rawShape is the shape of a raw float32 file (nil: none).
func readSamples(path string, rawShape []int, inputs []graph.ValueSpec) (map[string]*graph.Tensor, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var arrays []map[string]*graph.Tensor
	files := []string{path}
	if st.IsDir() {
		if rawShape != nil {
			return nil, fmt.Errorf("%s: -shape is for one raw float32 file, not a directory", path)
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		files = nil
		for _, e := range entries {
			if n := e.Name(); !e.IsDir() && (strings.HasSuffix(n, ".npy") || strings.HasSuffix(n, ".npz")) {
				files = append(files, filepath.Join(path, n))
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no .npy or .npz files in the directory", path)
		}
	}
	for _, f := range files {
		a, err := readSampleFile(f, rawShape, inputs)
		if err != nil {
			return nil, err
		}
		arrays = append(arrays, a)
	}
	out := map[string]*graph.Tensor{}
	for _, spec := range inputs {
		var parts []*graph.Tensor
		for _, a := range arrays {
			parts = append(parts, a[spec.Name])
		}
		t, err := joinSamples(parts)
		if err != nil {
			return nil, fmt.Errorf("%s: input %q: %w", path, spec.Name, err)
		}
		if t, err = fitSamples(t, spec); err != nil {
			return nil, fmt.Errorf("%s: input %q: %w", path, spec.Name, err)
		}
		out[spec.Name] = t
	}
	return out, nil
}

// readSampleFile reads one file's arrays by input name.
func readSampleFile(path string, rawShape []int, inputs []graph.ValueSpec) (map[string]*graph.Tensor, error) {
	out := map[string]*graph.Tensor{}
	single := func(t *graph.Tensor) (map[string]*graph.Tensor, error) {
		if len(inputs) != 1 {
			return nil, fmt.Errorf("%s: one array for a model with %d inputs: give a .npz archive with one array per input name", path, len(inputs))
		}
		out[inputs[0].Name] = t
		return out, nil
	}
	switch {
	case rawShape != nil:
		x, err := npy.ReadRawFile(path, rawShape)
		if err != nil {
			return nil, err
		}
		return single(graph.Float(x))
	case strings.HasSuffix(path, ".npz"):
		arrays, err := npy.ReadNPZFile(path)
		if err != nil {
			return nil, err
		}
		for _, spec := range inputs {
			a, ok := arrays[spec.Name]
			if !ok {
				return nil, fmt.Errorf("%s: no array %q for the model's input of that name", path, spec.Name)
			}
			if out[spec.Name], err = quantize.FromArray(a, spec.DType); err != nil {
				return nil, fmt.Errorf("%s: %q: %w", path, spec.Name, err)
			}
		}
		return out, nil
	case strings.HasSuffix(path, ".npy"):
		a, err := npy.ReadArrayFile(path)
		if err != nil {
			return nil, err
		}
		if len(inputs) != 1 {
			return single(nil)
		}
		t, err := quantize.FromArray(a, inputs[0].DType)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return single(t)
	}
	a, err := idx.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w (data files are .npy, .npz, a directory of those, IDX, or raw float32 with -shape)", err)
	}
	if len(inputs) != 1 {
		return single(nil)
	}
	t, err := idxTensor(a, inputs[0].DType)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return single(t)
}

// idxTensor converts an IDX array to a FLOAT tensor or, for integer types,
// an INT64 one.
func idxTensor(a *idx.Array, dt onnx.DataType) (*graph.Tensor, error) {
	if dt == onnx.Float {
		return graph.Float(a.Tensor()), nil
	}
	v, err := a.Ints()
	if err != nil {
		return nil, err
	}
	t := &graph.Tensor{DType: onnx.Int64, Shape: slices.Clone(a.Shape), I64: make([]int64, len(v))}
	for i, x := range v {
		t.I64[i] = int64(x)
	}
	if dt != onnx.Int64 {
		return nil, fmt.Errorf("the model wants %v, which this loader gives IDX files only as FLOAT or INT64", dt)
	}
	return t, nil
}

// joinSamples concatenates tensors of one type along their first axis.
func joinSamples(parts []*graph.Tensor) (*graph.Tensor, error) {
	if len(parts) == 1 {
		return parts[0], nil
	}
	first := parts[0]
	n := 0
	for i, p := range parts {
		if p.DType != first.DType || len(p.Shape) == 0 || !slices.Equal(p.Shape[1:], first.Shape[1:]) {
			return nil, fmt.Errorf("file %d holds %v, the first %v: they do not join along the first axis", i+1, p, first)
		}
		n += p.Shape[0]
	}
	out, err := graph.New(first.DType, append([]int{n}, first.Shape[1:]...)...)
	if err != nil {
		return nil, err
	}
	at := 0
	for _, p := range parts {
		at += copyTensor(out, p, at)
	}
	return out, nil
}

// copyTensor copies src's elements into dst from element at on, and
// returns their number.
func copyTensor(dst, src *graph.Tensor, at int) int {
	n := src.Len()
	copy(dst.F32[min(at, len(dst.F32)):], src.F32)
	copy(dst.F64[min(at, len(dst.F64)):], src.F64)
	copy(dst.I64[min(at, len(dst.I64)):], src.I64)
	copy(dst.I32[min(at, len(dst.I32)):], src.I32)
	copy(dst.I8[min(at, len(dst.I8)):], src.I8)
	copy(dst.U8[min(at, len(dst.U8)):], src.U8)
	return n
}

// fitSamples returns t reshaped to the input's shape (its first axis the
// samples) when its elements per sample are the input's but the shape
// differs, and an error when they cannot be.
func fitSamples(t *graph.Tensor, spec graph.ValueSpec) (*graph.Tensor, error) {
	if t.DType != spec.DType {
		return nil, fmt.Errorf("the data are %v, the model wants %v", t.DType, spec.DType)
	}
	if len(t.Shape) == 0 || len(spec.Shape) == 0 {
		return nil, fmt.Errorf("samples %v for an input %s: want samples along the first axis", t, graph.ShapeString(spec.Shape))
	}
	per, want := 1, []int{t.Shape[0]}
	for _, d := range t.Shape[1:] {
		per *= d
	}
	known := 1
	for _, d := range spec.Shape[1:] {
		if !d.Known() {
			if len(spec.Shape) == len(t.Shape) {
				return t, nil
			}
			return nil, fmt.Errorf("samples %v for an input %s", t, graph.ShapeString(spec.Shape))
		}
		known *= d.Size
		want = append(want, d.Size)
	}
	if known != per {
		return nil, fmt.Errorf("samples of %d values (%v) for an input of %d per sample %s", per, t.Shape, known, graph.ShapeString(spec.Shape))
	}
	c := *t
	c.Shape = want
	return &c, nil
}

// affine is the -preprocess option: x·scale + shift, per channel (axis 1
// of the samples) when several values are given.
type affine struct{ scale, shift []float32 }

// parseAffine reads "SCALE,SHIFT" where each is one number or a
// colon-separated list, one per channel.
func parseAffine(s string) (*affine, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) != 2 {
		return nil, fmt.Errorf("-preprocess %q: want SCALE,SHIFT (each a number or a colon-separated list per channel)", s)
	}
	a := &affine{}
	for i, p := range parts {
		for _, f := range strings.Split(p, ":") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
			if err != nil || v != v {
				return nil, fmt.Errorf("-preprocess %q: %q is not a number", s, f)
			}
			if i == 0 {
				a.scale = append(a.scale, float32(v))
			} else {
				a.shift = append(a.shift, float32(v))
			}
		}
	}
	return a, nil
}

// apply computes x·scale + shift on a FLOAT tensor of samples [N, C, ...],
// in place.
func (a *affine) apply(x *graph.Tensor) error {
	if a == nil {
		return nil
	}
	if x.DType != onnx.Float {
		return fmt.Errorf("-preprocess applies to FLOAT inputs, the input is %v", x.DType)
	}
	c, inner := 1, 1
	if len(a.scale) > 1 || len(a.shift) > 1 {
		if len(x.Shape) < 2 {
			return fmt.Errorf("-preprocess per channel needs samples with channels, have %v", x.Shape)
		}
		c = x.Shape[1]
		for _, d := range x.Shape[2:] {
			inner *= d
		}
	}
	for _, v := range [][]float32{a.scale, a.shift} {
		if len(v) != 1 && len(v) != c {
			return fmt.Errorf("-preprocess has %d values for %d channels", len(v), c)
		}
	}
	for i, v := range x.F32 {
		ch := (i / inner) % c
		x.F32[i] = v*a.scale[min(ch, len(a.scale)-1)] + a.shift[min(ch, len(a.shift)-1)]
	}
	return nil
}

// readTargets reads the training targets: class labels (.npy of
// integers, or an IDX file) as INT64, or values (.npy of floats, for the
// mean squared error) as FLOAT.
func readTargets(path string) (*graph.Tensor, error) {
	if strings.HasSuffix(path, ".npy") {
		a, err := npy.ReadArrayFile(path)
		if err != nil {
			return nil, err
		}
		dt := onnx.Int64
		if a.DType == npy.Float32 || a.DType == npy.Float64 {
			dt = onnx.Float
		}
		return quantize.FromArray(a, dt)
	}
	a, err := idx.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w (labels are .npy or IDX files)", err)
	}
	return idxTensor(a, onnx.Int64)
}
