// Package ptqvec reads the original's post-training quantization vectors
// of two float ONNX models (testdata/conformance/onnx_ptq, see the README
// there) and compares a quantization of them with the original's: the
// tests of package quantize and of tensorquant quantize share it.
package ptqvec

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/tensor"
)

// Models are the two vector models.
var Models = []string{"cnn", "mlp_attn"}

// Methods maps the vectors' method names to ours (percentile at the
// default 99.99).
var Methods = []struct {
	Key    string
	Method calibrators.Method
}{{"max", calibrators.MethodMax}, {"entropy", calibrators.MethodEntropy}, {"percentile_99.99", calibrators.MethodPercentile}, {"mse", calibrators.MethodMSE}}

// Bits is a float32 tensor of the vectors as IEEE-754 bit patterns.
type Bits struct {
	Shape []int    `json:"shape"`
	Bits  []uint32 `json:"bits"`
}

// Floats returns the values.
func (b Bits) Floats() []float32 {
	v := make([]float32, len(b.Bits))
	for i, x := range b.Bits {
		v[i] = math.Float32frombits(x)
	}
	return v
}

// Quantizer is one quantizer of the original.
type Quantizer struct {
	Name         string          `json:"name"`
	Kind         string          `json:"kind"` // "input" or "weight"
	Node         string          `json:"node"`
	OpType       string          `json:"op_type"`
	InputIndex   int             `json:"input_index"`
	Input        string          `json:"input_tensor"`
	Amax         map[string]Bits `json:"amax"`
	Axis         int             `json:"per_channel_axis_in_initializer"`
	BNFolded     bool            `json:"bn_folded_into_initializer"`
	AmaxFoldedIn Bits            `json:"amax_max_of_initializer"`
	Activations  struct {
		SHA256All      string   `json:"sha256_all_batches"`
		SHA256PerBatch []string `json:"sha256_per_batch"`
		First16        []uint32 `json:"first16_batch0"`
	} `json:"activations"`
}

// WeightAmax returns the original's per-channel amax of a weight
// quantizer in the float export's initializer (the folded one where the
// exporter folded BatchNorm into it).
func (q *Quantizer) WeightAmax() Bits {
	if q.BNFolded {
		return q.AmaxFoldedIn
	}
	return q.Amax["max"]
}

// Vectors is testdata/conformance/onnx_ptq/<model>.ptq.json: the fields
// the tests read.
type Vectors struct {
	Batches     int         `json:"batches"`
	BatchSize   int         `json:"batch_size"`
	Quantizer   []Quantizer `json:"quantizers"`
	Unquantized []struct {
		Node   string `json:"node"`
		OpType string `json:"op_type"`
	} `json:"unquantized_compute_nodes"`
	Test        map[string]Bits `json:"test"`
	Differences map[string]struct {
		MaxAbs float64 `json:"max_abs"`
	} `json:"differences"`
	MaxULP map[string]int `json:"ort_experiment_max_amax_ulp_diff"`
}

// Dir returns the directory of the vectors.
func Dir() (string, error) {
	root, err := conformance.Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "testdata", "conformance", "onnx_ptq"), nil
}

// Load reads a vector model: its float graph, its calibration inputs and
// the vectors.
func Load(name string) (*graph.Graph, *tensor.Tensor, *Vectors, error) {
	dir, err := Dir()
	if err != nil {
		return nil, nil, nil, err
	}
	g, err := graph.ImportFile(filepath.Join(dir, name+".float.onnx"))
	if err != nil {
		return nil, nil, nil, err
	}
	x, err := npy.ReadFile(filepath.Join(dir, name+".calib.npy"))
	if err != nil {
		return nil, nil, nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, name+".ptq.json"))
	if err != nil {
		return nil, nil, nil, err
	}
	var v Vectors
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, nil, nil, fmt.Errorf("%s.ptq.json: %w", name, err)
	}
	return g, x, &v, nil
}

// ULPBound returns how far (ulps) a different float summation order moved
// the original's own amax: the largest over both models and every method
// when its calibrators were fed ONNX Runtime's activations instead of
// torch's.
func ULPBound() (int64, error) {
	bound := int64(0)
	for _, name := range Models {
		_, _, v, err := Load(name)
		if err != nil {
			return 0, err
		}
		for _, u := range v.MaxULP {
			bound = max(bound, int64(u))
		}
	}
	return bound, nil
}

// Activations are fingerprints of the float values g computes, per value.
type Activations struct {
	PerBatch map[string][]string  // SHA-256 of each batch's float32 bytes
	All      map[string]string    // SHA-256 of all batches'
	First    map[string][]float32 // the first 16 values of batch 0
}

// Fingerprint runs g over x in batches of batch and returns the
// fingerprints of the watched values, as the vectors have them.
func Fingerprint(g *graph.Graph, x *tensor.Tensor, batch int, values []string) (*Activations, error) {
	s, err := graph.NewSession(g, graph.Options{Keep: values})
	if err != nil {
		return nil, err
	}
	a := &Activations{PerBatch: map[string][]string{}, All: map[string]string{}, First: map[string][]float32{}}
	total := map[string][]byte{}
	per := len(x.Data) / x.Shape[0]
	for lo := 0; lo < x.Shape[0]; lo += batch {
		in, err := graph.Floats(x.Data[lo*per:(lo+batch)*per], append([]int{batch}, x.Shape[1:]...)...)
		if err != nil {
			return nil, err
		}
		_, err = s.RunObserved(map[string]*graph.Tensor{g.Inputs[0].Name: in}, values, func(name string, v *graph.Tensor) error {
			b := make([]byte, 0, 4*len(v.F32))
			for _, f := range v.F32 {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
			}
			sum := sha256.Sum256(b)
			a.PerBatch[name] = append(a.PerBatch[name], hex.EncodeToString(sum[:]))
			total[name] = append(total[name], b...)
			if lo == 0 {
				a.First[name] = append([]float32(nil), v.F32[:16]...)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for name, b := range total {
		sum := sha256.Sum256(b)
		a.All[name] = hex.EncodeToString(sum[:])
	}
	return a, nil
}

// ULPs returns the distance of two positive float32 values in units in
// the last place.
func ULPs(a, b float32) int64 {
	d := int64(math.Float32bits(a)) - int64(math.Float32bits(b))
	if d < 0 {
		d = -d
	}
	return d
}

// Site is one of our quantizers as Compare sees it: the value it
// quantizes, whether it is a weight's, and its amax.
type Site struct {
	Value  string
	Weight bool
	Amax   []float32
}

// Compare compares our amax for the vectors' method key with the
// original's, quantizer by quantizer (site returns ours on input k of
// node): weights (key "max" only) per channel bit for bit; activations bit
// for bit where our float activations hash equal to those the original's
// quantizer saw (acts, from Fingerprint over the vectors' batches), within
// bound ulps elsewhere; the graph input must hash equal. It returns every
// difference as a message and how many activation amax are bit for bit
// the original's.
func (v *Vectors) Compare(key string, g *graph.Graph, acts *Activations, bound int64, site func(node string, k int) (Site, bool)) (errs []string, exact int) {
	for _, q := range v.Quantizer {
		s, ok := site(q.Node, q.InputIndex)
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("%s: no quantizer on input %d of %s", q.Name, q.InputIndex, q.Node))
			continue
		case s.Weight != (q.Kind == "weight"):
			errs = append(errs, fmt.Sprintf("%s: ours is a weight's %v, the original's a %s's", q.Name, s.Weight, q.Kind))
			continue
		case s.Weight && key != "max":
			continue
		case s.Weight:
			want := q.WeightAmax().Floats()
			if len(s.Amax) != len(want) {
				errs = append(errs, fmt.Sprintf("%s: %d channels, the original's %d", q.Name, len(s.Amax), len(want)))
				continue
			}
			for j, w := range want {
				if math.Float32bits(s.Amax[j]) != math.Float32bits(w) {
					errs = append(errs, fmt.Sprintf("%s channel %d: amax %v, want %v", q.Name, j, s.Amax[j], w))
				}
			}
			continue
		}
		if len(s.Amax) != 1 {
			errs = append(errs, fmt.Sprintf("%s: %d amax for an activation", q.Name, len(s.Amax)))
			continue
		}
		got, want := s.Amax[0], q.Amax[key].Floats()[0]
		same := acts.All[s.Value] == q.Activations.SHA256All
		switch {
		case s.Value == g.Inputs[0].Name && !same:
			errs = append(errs, fmt.Sprintf("%s: the graph input hashes %s, the original's %s", q.Name, acts.All[s.Value], q.Activations.SHA256All))
		case same && got != want:
			errs = append(errs, fmt.Sprintf("%s %s: amax %v, the original's %v on bit-identical activations", q.Name, key, got, want))
		case !same && ULPs(got, want) > bound:
			errs = append(errs, fmt.Sprintf("%s %s: amax %v is %d ulps from the original's %v, more than %d (activations differ)",
				q.Name, key, got, ULPs(got, want), want, bound))
		case same:
			exact++
		}
	}
	return errs, exact
}
