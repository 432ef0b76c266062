package conformance

import (
	"encoding/json"
	"math"
	"testing"
)

func TestTensorDecoding(t *testing.T) {
	var x Tensor
	in := `{"shape": [4, 1], "dtype": "float32", "values": [0.5, "NaN", -0.0, "Inf"], "bits": [1056964608, 2143289344, 2147483648, 2139095040]}`
	if err := json.Unmarshal([]byte(in), &x); err != nil {
		t.Fatal(err)
	}
	want := []float32{0.5, float32(math.NaN()), float32(math.Copysign(0, -1)), float32(math.Inf(1))}
	if d := DiffFloat32(x.F32, want); d != "" {
		t.Fatal(d)
	}
	var y Tensor
	// 3 float32 (1, -2, NaN) little-endian, base64.
	if err := json.Unmarshal([]byte(`{"shape":[3],"dtype":"float32","b64":"AACAPwAAAMAAAMB/"}`), &y); err != nil {
		t.Fatal(err)
	}
	if d := DiffFloat32(y.F32, []float32{1, -2, float32(math.NaN())}); d != "" {
		t.Fatal(d)
	}
	var z Tensor
	if err := json.Unmarshal([]byte(`{"shape":[2],"dtype":"int64","values":[3,-4]}`), &z); err != nil || z.I64[1] != -4 {
		t.Fatalf("int64: %v %v", z.I64, err)
	}
	var bad Tensor
	if err := json.Unmarshal([]byte(`{"shape":[3],"dtype":"float32","values":[1]}`), &bad); err == nil {
		t.Fatal("count mismatch accepted")
	}
}

func TestDiffFloat32(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	if DiffFloat32([]float32{0}, []float32{negZero}) == "" {
		t.Error("+0 and -0 compared equal")
	}
	if DiffFloat32([]float32{float32(math.NaN())}, []float32{-float32(math.NaN())}) != "" {
		t.Error("NaNs of different sign compared unequal")
	}
}

func TestLoadEveryFile(t *testing.T) {
	for _, name := range []string{"tensor_quant.json", "fake_tensor_quant.json", "ste_backward.json", "calibrators.json",
		"calibrators_hist_gaussian.json", "calibrators_hist_uniform.json", "quant_modules.json", "tensor_quantizer.json",
		"fb_fake_quant.json", "tiny_qdq_model.json"} {
		var v map[string]json.RawMessage
		if err := Load(name, &v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
