package graph_test

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/models"
	"github.com/tensorquant/tensorquant/onnx"
)

// TestReferenceModelsMatchORT runs every reference model of `make models`
// (torchvision's resnet18, mobilenet_v2, mobilenet_v3_small,
// efficientnet_b0, two transformer encoders, the Fashion-MNIST CNN, with
// and without BatchNormalization nodes; opsets 13 and 17) at batch 1 and 4
// and compares the outputs with ONNX Runtime's (optimisation "all", one
// thread) within issue 12's tolerance: rtol 1e-4, atol 1e-5.
func TestReferenceModelsMatchORT(t *testing.T) {
	if testing.Short() {
		t.Skip("loads ~300 MB of models")
	}
	eachReferenceModel(t, func(t *testing.T, mo *models.Model, opset int, path string) {
		m, err := onnx.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		g, err := graph.Import(m)
		if err != nil {
			t.Fatal(err)
		}
		s, err := graph.NewSession(g, graph.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range mo.Batches {
			in, err := mo.ReadInputs(batch)
			if err != nil {
				t.Fatal(err)
			}
			want, err := mo.ReadOutputs(batch, models.ORT(opset, true))
			if err != nil {
				t.Fatal(err)
			}
			feeds := map[string]*graph.Tensor{}
			for name, x := range in {
				feeds[name] = graph.Float(x)
			}
			got, err := s.Run(feeds)
			if err != nil {
				t.Fatalf("batch %d: %v", batch, err)
			}
			for name, w := range want {
				y, err := got[name].AsFloat()
				if err != nil {
					t.Fatalf("batch %d output %s: %v", batch, name, err)
				}
				if err := models.Close(y, w, 1e-4, 1e-5); err != nil {
					t.Errorf("batch %d output %s: %v", batch, name, err)
				}
			}
		}
	})
}

// eachReferenceModel runs f as a subtest for every reference model of
// `make models` (models.Open) at each of its opsets, with the path of
// the file.
func eachReferenceModel(t *testing.T, f func(t *testing.T, mo *models.Model, opset int, path string)) {
	man := models.Open(t)
	for _, mo := range man.Models {
		for _, opset := range mo.Opsets {
			t.Run(fmt.Sprintf("%s/op%d", mo.Name, opset), func(t *testing.T) {
				path, err := mo.Path(opset)
				if err != nil {
					t.Fatal(err)
				}
				f(t, mo, opset, path)
			})
		}
	}
}

// TestReferenceModelsOptimized runs every reference model at batch 1 and 4
// node by node (OptimizeNone), with the exact passes (OptimizeExact) and
// with every pass (OptimizeAll): the exact passes change no bit; neither
// do all passes where they rewrite the graph as the exact ones do, and
// where they do more (BatchNormalization folded, the encoders' Gelu,
// LayerNorm and attention) the outputs stay within the ORT tolerance of the
// node by node outputs. The optimised graph has no Conv, BatchNormalization,
// Identity or Dropout node left.
func TestReferenceModelsOptimized(t *testing.T) {
	if testing.Short() {
		t.Skip("loads ~300 MB of models")
	}
	man := models.Open(t)
	for _, mo := range man.Models {
		for _, opset := range mo.Opsets {
			t.Run(fmt.Sprintf("%s/op%d", mo.Name, opset), func(t *testing.T) {
				path, err := mo.Path(opset)
				if err != nil {
					t.Fatal(err)
				}
				m, err := onnx.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				sessions := map[graph.Optimization]*graph.Session{}
				hasBN := false
				for _, level := range []graph.Optimization{graph.OptimizeNone, graph.OptimizeExact, graph.OptimizeAll} {
					g, err := graph.Import(m)
					if err != nil {
						t.Fatal(err)
					}
					for _, n := range g.Nodes {
						hasBN = hasBN || n.OpType == "BatchNormalization"
					}
					if sessions[level], err = graph.NewSession(g, graph.Options{Optimization: level}); err != nil {
						t.Fatal(err)
					}
				}
				for _, n := range sessions[graph.OptimizeAll].Graph().Nodes {
					switch n.OpType {
					case "Conv", "ConvTranspose", "BatchNormalization", "Identity", "Dropout":
						t.Errorf("optimised graph keeps node %q (%s)", n.Name, n.OpType)
					}
				}
				// The passes that change rounding (BatchNormalization folded,
				// the encoder's Gelu, LayerNorm and non-power-of-two attention
				// fusions, Winograd's convolutions) leave OptimizeAll's graph
				// unlike OptimizeExact's.
				inexact := hasBN || !slices.EqualFunc(sessions[graph.OptimizeAll].Graph().Nodes, sessions[graph.OptimizeExact].Graph().Nodes,
					func(a, b *graph.Node) bool {
						return a.OpType == b.OpType && slices.EqualFunc(a.Attrs, b.Attrs, sameAttr)
					})
				for _, batch := range mo.Batches {
					in, err := mo.ReadInputs(batch)
					if err != nil {
						t.Fatal(err)
					}
					outs := map[graph.Optimization]map[string]*graph.Tensor{}
					for level, s := range sessions {
						feeds := map[string]*graph.Tensor{}
						for name, x := range in {
							feeds[name] = graph.Float(x.Clone())
						}
						if outs[level], err = s.Run(feeds); err != nil {
							t.Fatalf("%v, batch %d: %v", level, batch, err)
						}
					}
					for name, want := range outs[graph.OptimizeNone] {
						w, _ := want.AsFloat()
						for _, level := range []graph.Optimization{graph.OptimizeExact, graph.OptimizeAll} {
							got, err := outs[level][name].AsFloat()
							if err != nil {
								t.Fatal(err)
							}
							if level == graph.OptimizeAll && inexact {
								if err := models.Close(got, w, 1e-4, 1e-5); err != nil {
									t.Errorf("%v, batch %d, output %s: %v", level, batch, name, err)
								}
								continue
							}
							for i := range w.Data {
								if math.Float32bits(got.Data[i]) != math.Float32bits(w.Data[i]) {
									t.Errorf("%v, batch %d, output %s: element %d is %v, node by node %v", level, batch, name, i, got.Data[i], w.Data[i])
									break
								}
							}
						}
					}
				}
			})
		}
	}
}

// sameAttr reports whether two attributes have the same name and value.
func sameAttr(a, b onnx.Attribute) bool {
	return a.Name == b.Name && a.Type == b.Type && bytes.Equal(a.S, b.S) && a.I == b.I && a.F == b.F && slices.Equal(a.Ints, b.Ints) && slices.Equal(a.Floats, b.Floats)
}
