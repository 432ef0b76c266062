package layers

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
)

// pyFields is a descriptor's read-only properties as the vectors record them.
type pyFields struct {
	NumBits     int                 `json:"num_bits"`
	Name        *string             `json:"name"`
	FakeQuant   bool                `json:"fake_quant"`
	Axis        json.RawMessage     `json:"axis"`
	Amax        *conformance.Tensor `json:"amax"`
	LearnAmax   bool                `json:"learn_amax"`
	ScaleAmax   *float64            `json:"scale_amax"`
	CalibMethod string              `json:"calib_method"`
	Unsigned    bool                `json:"unsigned"`
	NarrowRange bool                `json:"narrow_range"`
}

// descriptor converts the recorded fields into the Go descriptor.
func (f pyFields) descriptor(t *testing.T) QuantDescriptor {
	t.Helper()
	d := QuantDescriptor{NumBits: f.NumBits, FakeQuant: f.FakeQuant, LearnAmax: f.LearnAmax,
		CalibMethod: CalibMethod(f.CalibMethod), Unsigned: f.Unsigned, NarrowRange: f.NarrowRange}
	if f.Name != nil {
		d.Name = *f.Name
	}
	if f.ScaleAmax != nil {
		d.ScaleAmax = float32(*f.ScaleAmax)
	}
	if s := string(f.Axis); s != "null" && s != "" {
		var one int
		if json.Unmarshal(f.Axis, &one) == nil {
			d.Axis = []int{one}
		} else if err := json.Unmarshal(f.Axis, &d.Axis); err != nil {
			t.Fatalf("axis %s: %v", s, err)
		}
	}
	if f.Amax != nil {
		d.Amax = f.Amax.F32
		if f.Amax.F32 == nil {
			for _, v := range f.Amax.F64 {
				d.Amax = append(d.Amax, float32(v))
			}
		}
		if len(f.Amax.Shape) > 1 || (len(f.Amax.Shape) == 1 && f.Amax.Shape[0] == 1) {
			d.AmaxShape = f.Amax.Shape
		}
	}
	return d
}

type quantModules struct {
	Predefined map[string]struct {
		Fields pyFields `json:"fields"`
		Str    string   `json:"str"`
	} `json:"predefined_descriptors"`
	Defaults struct {
		Fields pyFields `json:"fields"`
		Str    string   `json:"str"`
	} `json:"quant_descriptor_defaults"`
	Examples []struct {
		Fields pyFields `json:"fields"`
		Str    string   `json:"str"`
	} `json:"descriptor_examples"`
}

// pyTupleToGo rewrites the original's one-element tuple axis "(0,)" into the
// "0" a Go []int prints (Go cannot tell axis=0 from axis=(0,)).
func pyTupleToGo(s string) string {
	for _, a := range []string{"0", "1", "2", "3"} {
		s = strings.ReplaceAll(s, "axis=("+a+",)", "axis="+a)
	}
	return s
}

func TestPredefinedDescriptors(t *testing.T) {
	var qm quantModules
	if err := conformance.Load("quant_modules.json", &qm); err != nil {
		t.Fatal(err)
	}
	ours := map[string]QuantDescriptor{
		"QUANT_DESC_8BIT_PER_TENSOR":                         QuantDesc8BitPerTensor(),
		"QUANT_DESC_UNSIGNED_8BIT_PER_TENSOR":                QuantDescUnsigned8BitPerTensor(),
		"QUANT_DESC_8BIT_CONV1D_WEIGHT_PER_CHANNEL":          QuantDesc8BitConv1dWeightPerChannel(),
		"QUANT_DESC_8BIT_CONV2D_WEIGHT_PER_CHANNEL":          QuantDesc8BitConv2dWeightPerChannel(),
		"QUANT_DESC_8BIT_CONV3D_WEIGHT_PER_CHANNEL":          QuantDesc8BitConv3dWeightPerChannel(),
		"QUANT_DESC_8BIT_LINEAR_WEIGHT_PER_ROW":              QuantDesc8BitLinearWeightPerRow(),
		"QUANT_DESC_8BIT_CONVTRANSPOSE1D_WEIGHT_PER_CHANNEL": QuantDesc8BitConvTranspose1dWeightPerChannel(),
		"QUANT_DESC_8BIT_CONVTRANSPOSE2D_WEIGHT_PER_CHANNEL": QuantDesc8BitConvTranspose2dWeightPerChannel(),
		"QUANT_DESC_8BIT_CONVTRANSPOSE3D_WEIGHT_PER_CHANNEL": QuantDesc8BitConvTranspose3dWeightPerChannel(),
	}
	if len(qm.Predefined) != len(ours) {
		t.Fatalf("%d predefined descriptors in the vectors, %d here", len(qm.Predefined), len(ours))
	}
	for name, p := range qm.Predefined {
		d, ok := ours[name]
		if !ok {
			t.Fatalf("no Go descriptor for %s", name)
		}
		if want := p.Fields.descriptor(t); !d.Equal(want) {
			t.Errorf("%s = %+v, want %+v", name, d, want)
		}
		if got := d.String(); got != p.Str {
			t.Errorf("%s.String() = %q, want %q", name, got, p.Str)
		}
		if err := d.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if want := qm.Defaults.Fields.descriptor(t); !QuantDesc8BitPerTensor().Equal(want) {
		t.Errorf("defaults %+v, want %+v", QuantDesc8BitPerTensor(), want)
	}
}

func TestDescriptorStringMatchesOriginal(t *testing.T) {
	var qm quantModules
	if err := conformance.Load("quant_modules.json", &qm); err != nil {
		t.Fatal(err)
	}
	var tq struct {
		Cases []struct {
			Name    string   `json:"name"`
			Desc    pyFields `json:"desc"`
			DescStr string   `json:"desc_str"`
		} `json:"cases"`
	}
	if err := conformance.Load("tensor_quantizer.json", &tq); err != nil {
		t.Fatal(err)
	}
	n := 0
	check := func(f pyFields, want string) {
		d := f.descriptor(t)
		if got := d.String(); got != pyTupleToGo(want) {
			t.Errorf("String() = %q, want %q", got, pyTupleToGo(want))
		}
		n++
	}
	for _, e := range qm.Examples {
		check(e.Fields, e.Str)
	}
	for _, c := range tq.Cases {
		check(c.Desc, c.DescStr)
	}
	if n < 30 {
		t.Fatalf("only %d descriptors checked", n)
	}
}

func TestDescriptorJSONRoundTrip(t *testing.T) {
	var qm quantModules
	if err := conformance.Load("quant_modules.json", &qm); err != nil {
		t.Fatal(err)
	}
	for _, e := range qm.Examples {
		d := e.Fields.descriptor(t)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("%v: %v", d, err)
		}
		var back QuantDescriptor
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !back.Equal(d) {
			t.Errorf("round trip of %s lost fields:\n%s", b, cmp.Diff(d, back))
		}
	}
	// narrow_range and calib_method survive (the original's yaml drops them).
	d := QuantDesc8BitPerTensor()
	d.NarrowRange, d.CalibMethod = true, "histogram"
	b, _ := json.Marshal(d)
	var back QuantDescriptor
	if err := json.Unmarshal(b, &back); err != nil || !back.NarrowRange || back.CalibMethod != "histogram" {
		t.Fatalf("%s -> %+v, %v", b, back, err)
	}
	want := `{"num_bits":8,"fake_quant":true,"axis":null,"amax":null,"amax_shape":null,"learn_amax":false,"scale_amax":0,"calib_method":"histogram","unsigned":false,"narrow_range":true,"name":"","format":"int","block_size":0}`
	if string(b) != want {
		t.Errorf("JSON %s\nwant %s", b, want)
	}
}

func TestDescriptorValidation(t *testing.T) {
	base := QuantDesc8BitPerTensor()
	for _, tc := range []struct {
		mod  func(*QuantDescriptor)
		want string
	}{
		{func(d *QuantDescriptor) { d.NumBits = -1 }, "num_bits -1 out of range"},
		{func(d *QuantDescriptor) { d.NumBits = 0 }, "num_bits 0 out of range"},
		{func(d *QuantDescriptor) { d.NumBits = 33 }, "num_bits 33 out of range"},
		{func(d *QuantDescriptor) { d.NumBits = 1 }, "signed quantization needs num_bits >= 2"},
		{func(d *QuantDescriptor) { d.CalibMethod = "bogus" }, `unknown calib_method "bogus"`},
		{func(d *QuantDescriptor) { d.Axis = []int{0, 0} }, "axis 0 given twice"},
		{func(d *QuantDescriptor) { d.LearnAmax, d.Axis = true, []int{0} }, "learn_amax needs a per-tensor descriptor"},
		{func(d *QuantDescriptor) { d.Amax = []float32{1, -2} }, "amax[1] = -2"},
		{func(d *QuantDescriptor) { d.Amax = []float32{float32(math.NaN())} }, "amax[0] = NaN"},
		{func(d *QuantDescriptor) { d.Amax, d.AmaxShape = []float32{1, 2}, []int{3} }, "amax_shape [3] does not hold the 2 amax values"},
		{func(d *QuantDescriptor) { d.AmaxShape = []int{1} }, "amax_shape [1] does not hold the 0 amax values"},
		{func(d *QuantDescriptor) { d.ScaleAmax = -1 }, "scale_amax -1 must be finite"},
		{func(d *QuantDescriptor) { d.Name, d.NumBits = "input", 0 }, `descriptor "input": num_bits 0`},
		{func(d *QuantDescriptor) { d.Format = "fp8" }, `unknown format "fp8"`},
		{func(d *QuantDescriptor) { d.Format, d.NumBits = "e4m3", 4 }, "format e4m3 is 8 bits wide, got num_bits 4"},
		{func(d *QuantDescriptor) { d.Format, d.FakeQuant = "e5m2", false }, "format e5m2 needs fake quantization"},
		{func(d *QuantDescriptor) { d.Format, d.Unsigned = "e4m3", true }, "format e4m3 has no unsigned or narrow-range variant"},
		{func(d *QuantDescriptor) { d.Format, d.NarrowRange = "e4m3", true }, "format e4m3 has no unsigned or narrow-range variant"},
		{func(d *QuantDescriptor) { d.BlockSize = -1 }, "block_size -1 is negative"},
		{func(d *QuantDescriptor) { d.BlockSize, d.Format = 32, "e4m3" }, "block_size 32 needs the int format, got e4m3"},
		{func(d *QuantDescriptor) { d.BlockSize, d.Axis = 32, []int{0} }, "block_size 32 needs fake quantization, no axis"},
		{func(d *QuantDescriptor) { d.BlockSize, d.FakeQuant = 32, false }, "block_size 32 needs fake quantization"},
		{func(d *QuantDescriptor) { d.BlockSize, d.LearnAmax = 32, true }, "learn_amax true"},
		{func(d *QuantDescriptor) { d.BlockSize, d.CalibMethod = 32, "histogram" }, `calib_method "histogram"`},
	} {
		d := base.Clone()
		tc.mod(&d)
		err := d.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", d, err, tc.want)
		}
		if _, err := json.Marshal(d); err == nil {
			t.Errorf("%+v: marshalled", d)
		}
	}
	u := base
	u.Unsigned, u.NumBits = true, 1
	if err := u.Validate(); err != nil {
		t.Errorf("unsigned 1-bit: %v", err)
	}
	for _, bad := range []string{`{"num_bits":8,"bogus":1}`, `{"fake_quant":true}`, `{"num_bits":0}`, `[1]`, `{"num_bits":8,"axis":"x"}`,
		`{"num_bits":8,"format":"e4m3"}`, `{"num_bits":8,"fake_quant":true,"block_size":-2}`} {
		var d QuantDescriptor
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("%s: accepted as %+v", bad, d)
		}
	}
}

// TestDescriptorFormats covers the formats the original does not have: how
// they print, that they validate, survive JSON and take part in Equal, and
// that JSON without them (earlier files) reads as "int" without blocks.
func TestDescriptorFormats(t *testing.T) {
	e4 := QuantDesc8BitConv2dWeightPerChannel()
	e4.Format = "e4m3"
	blk := QuantDesc8BitPerTensor()
	blk.NumBits, blk.BlockSize = 4, 32
	e5 := QuantDesc8BitPerTensor()
	e5.Format, e5.Name, e5.LearnAmax, e5.Amax = "e5m2", "act", true, []float32{2}
	for _, tc := range []struct {
		d    QuantDescriptor
		want string
	}{
		{e4, "QuantDescriptor(e4m3 fake axis=0)"},
		{blk, "QuantDescriptor(4bit fake axis= per-tensor block_size=32)"},
		{e5, "act: (e5m2 fake axis= per-tensor amax=2.0 full_range learn_amax)"},
	} {
		if err := tc.d.Validate(); err != nil {
			t.Errorf("%s: %v", tc.want, err)
		}
		if got := tc.d.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		b, err := json.Marshal(tc.d)
		if err != nil {
			t.Fatal(err)
		}
		var back QuantDescriptor
		if err := json.Unmarshal(b, &back); err != nil || !back.Equal(tc.d) {
			t.Errorf("%s -> %+v, %v", b, back, err)
		}
	}
	if e4.Equal(QuantDesc8BitConv2dWeightPerChannel()) || blk.Equal(QuantDesc8BitPerTensor()) {
		t.Error("Equal ignores Format or BlockSize")
	}
	intd := QuantDesc8BitPerTensor()
	intd.Format = "int"
	if !intd.Equal(QuantDesc8BitPerTensor()) || intd.String() != QuantDesc8BitPerTensor().String() {
		t.Error(`Format "int" differs from ""`)
	}
	if f, ok := e4.FP8(); !ok || f != fakequant.E4M3FN {
		t.Errorf("e4m3: FP8() = %v, %v", f, ok)
	}
	if _, ok := blk.FP8(); ok {
		t.Error("int: FP8() ok")
	}
	var old QuantDescriptor
	if err := json.Unmarshal([]byte(`{"num_bits":8,"fake_quant":true}`), &old); err != nil || old.FormatName() != "int" || old.BlockSize != 0 {
		t.Errorf("descriptor without format: %+v, %v", old, err)
	}
}

func TestAmaxTensor(t *testing.T) {
	d := QuantDesc8BitPerTensor()
	if a, err := d.AmaxTensor(); a != nil || err != nil {
		t.Fatalf("no amax: %v %v", a, err)
	}
	d.Amax = []float32{0.5}
	if a, err := d.AmaxTensor(); err != nil || len(a.Shape) != 0 || a.Data[0] != 0.5 {
		t.Fatalf("scalar amax: %v %v", a, err)
	}
	d.Amax, d.AmaxShape = []float32{1, 2, 3, 4}, []int{4, 1}
	a, err := d.AmaxTensor()
	if err != nil || !cmp.Equal(a.Shape, []int{4, 1}) {
		t.Fatalf("(4,1) amax: %v %v", a, err)
	}
	a.Data[0] = 9
	if d.Amax[0] != 1 {
		t.Fatal("AmaxTensor shares the descriptor's amax")
	}
	d.AmaxShape = nil
	if a, _ := d.AmaxTensor(); !cmp.Equal(a.Shape, []int{4}) {
		t.Fatalf("1-D amax shape %v", a.Shape)
	}
}

func TestCloneIsDeep(t *testing.T) {
	d := QuantDesc8BitConv2dWeightPerChannel()
	d.Amax, d.AmaxShape = []float32{1}, []int{1}
	c := d.Clone()
	c.Axis[0], c.Amax[0], c.AmaxShape[0] = 3, 2, 2
	if d.Axis[0] != 0 || d.Amax[0] != 1 || d.AmaxShape[0] != 1 {
		t.Fatal("Clone shares a slice")
	}
}

// TestPresetsShareNothing: a predefined descriptor changed in place (its
// Axis element included) leaves the next call's unchanged, and the zero
// descriptor is refused with a hint.
func TestPresetsShareNothing(t *testing.T) {
	for _, p := range []func() QuantDescriptor{QuantDesc8BitConv2dWeightPerChannel, QuantDesc8BitConvTranspose1dWeightPerChannel, QuantDesc8BitLinearWeightPerRow} {
		a := p()
		want := a.Axis[0]
		a.Axis[0] = 7
		if p().Axis[0] != want {
			t.Fatalf("%v: preset changed by its copy", p())
		}
	}
	if err := (QuantDescriptor{}).Validate(); err == nil || !strings.Contains(err.Error(), "zero QuantDescriptor") {
		t.Errorf("zero descriptor: %v", err)
	}
}
