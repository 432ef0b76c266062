package export

import (
	"errors"
	"fmt"
	"sort"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
)

// The ai.onnx opsets Model writes (see graph.DefaultLayersOpset):
// DefaultOpset (13) when Options.Opset is 0 and no quantizer needs a
// newer one, and Options.Opset from MinOpset (10) to MaxOpset (22).
const (
	DefaultOpset = graph.DefaultLayersOpset
	MinOpset     = graph.MinLayersOpset
	MaxOpset     = graph.MaxLayersOpset
)

// WeightFormat selects how the weights of quantized layers are stored:
// WeightsFloat or WeightsQuantized (see graph.WeightFormat).
type WeightFormat = graph.WeightFormat

// The weight formats (see graph.WeightsFloat, graph.WeightsQuantized).
const (
	WeightsFloat     = graph.WeightsFloat
	WeightsQuantized = graph.WeightsQuantized
)

// BiasFormat selects how the bias of a quantized Conv or Linear is
// stored: BiasFloat or BiasInt32 (see graph.BiasFormat).
type BiasFormat = graph.BiasFormat

// The bias formats (see graph.BiasFloat, graph.BiasInt32).
const (
	BiasFloat = graph.BiasFloat
	BiasInt32 = graph.BiasInt32
)

// Options control Model: the shape of one input sample (required), the
// opset, the storage of quantized weights and biases, BatchNorm folding
// and the names of the input, output and batch dimension. They are
// graph.LayersOptions, whose fields document them.
type Options = graph.LayersOptions

// Model exports model, a tree of layers, to an ONNX model for inference:
// it converts the model into a graph (graph.FromLayers: BatchNorm uses its
// running statistics and Dropout is left out, whatever the layers'
// training mode; quantizers become QuantizeLinear/DequantizeLinear pairs)
// and writes that graph (Graph). The graph has one float input of shape
// [batch, opts.InputShape...] and one float output; the weights are
// initializers named as PyTorch names parameters ("features.0.weight"),
// and nodes are named as PyTorch's exporter names them
// ("/features/features.0/Conv"). See the package documentation for the
// layers and quantizers it exports and what it refuses.
//
// It returns an error for bad options, a layer it cannot export, a layer
// whose hyper-parameters or weights do not fit each other or the shape
// reaching it, and a quantizer ONNX cannot express; the error names the
// layer or quantizer by its hierarchical name.
func Model(model layers.Layer, opts Options) (*onnx.Model, error) {
	g, err := graph.FromLayers(model, opts)
	var ce *graph.ConversionError
	switch {
	case errors.As(err, &ce) && ce.Option != "":
		return nil, fmt.Errorf("export: Options.%s %s", ce.Option, ce.Msg)
	case errors.As(err, &ce):
		return nil, errors.New("export: " + ce.Msg)
	case err != nil:
		return nil, err
	}
	return Graph(g)
}

// WriteFile exports model (see Model) and writes it to path atomically
// (see onnx.WriteFile). It returns Model's and onnx.WriteFile's errors.
func WriteFile(path string, model layers.Layer, opts Options) error {
	m, err := Model(model, opts)
	if err != nil {
		return err
	}
	return onnx.WriteFile(path, m)
}

// Graph writes g as an ONNX model, as it is (a graph that has been
// inferred is written with its constants folded): its nodes in order with
// their attributes, its initializers in the order nodes first read them
// (then the others, by name), its inputs and outputs, the declared types
// of the intermediate values nodes compute (g.ValueInfo), and an opset
// import per domain, with the IR version of its ai.onnx opset
// (onnx.IRVersionForOpset). The producer is "tensorquant".
//
// It returns an error for a graph without an ai.onnx opset or with one
// package onnx knows no IR version for, and for an initializer that is
// not a valid tensor.
func Graph(g *graph.Graph) (*onnx.Model, error) {
	opset, ok := g.Opsets[""]
	if !ok {
		return nil, errors.New("export: the graph imports no ai.onnx opset")
	}
	ir, err := onnx.IRVersionForOpset(int64(opset))
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	og := &onnx.Graph{Name: g.Name}
	computed := map[string]bool{}
	var inits []string
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		node := onnx.NewNode(n.OpType, n.Name, n.Inputs, n.Outputs, n.Attrs...)
		node.Domain = n.Domain
		og.Node = append(og.Node, node)
		for _, in := range n.Inputs {
			if _, ok := g.Initializers[in]; ok && !seen[in] {
				seen[in] = true
				inits = append(inits, in)
			}
		}
		for _, o := range n.Outputs {
			computed[o] = true
		}
	}
	var rest []string
	for name := range g.Initializers {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range append(inits, rest...) {
		t, err := graph.TensorToONNX(name, g.Initializers[name])
		if err != nil {
			return nil, fmt.Errorf("export: initializer %q: %w", name, err)
		}
		og.Initializer = append(og.Initializer, t)
	}
	outputs := map[string]bool{}
	for _, v := range g.Inputs {
		og.Input = append(og.Input, valueInfo(v))
	}
	for _, v := range g.Outputs {
		og.Output = append(og.Output, valueInfo(v))
		outputs[v.Name] = true
	}
	for _, v := range g.ValueInfo {
		if computed[v.Name] && !outputs[v.Name] {
			og.ValueInfo = append(og.ValueInfo, valueInfo(v))
		}
	}
	m := &onnx.Model{IRVersion: ir, ProducerName: "tensorquant", OpsetImport: []onnx.OperatorSetID{{Version: int64(opset)}}, Graph: og}
	var domains []string
	for d := range g.Opsets {
		if d != "" {
			domains = append(domains, d)
		}
	}
	sort.Strings(domains)
	for _, d := range domains {
		m.OpsetImport = append(m.OpsetImport, onnx.OperatorSetID{Domain: d, Version: int64(g.Opsets[d])})
	}
	return m, nil
}

// valueInfo returns the ValueInfo of v: known sizes, symbolic dimensions
// by name, unknown ones empty.
func valueInfo(v graph.ValueSpec) onnx.ValueInfo {
	dims := make([]onnx.Dimension, len(v.Shape))
	for i, d := range v.Shape {
		switch {
		case d.Known():
			dims[i] = onnx.DimValue(int64(d.Size))
		case d.Param != "":
			dims[i] = onnx.DimParam(d.Param)
		}
	}
	return onnx.TensorValueInfo(v.Name, v.DType, dims...)
}
