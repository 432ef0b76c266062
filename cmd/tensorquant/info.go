package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
)

// modelInfo is what info prints (its JSON form with -json).
type modelInfo struct {
	Path         string           `json:"path"`
	IRVersion    int64            `json:"ir_version"`
	Producer     string           `json:"producer"`
	Opsets       map[string]int64 `json:"opsets"`
	Inputs       []valueInfo      `json:"inputs"`
	Outputs      []valueInfo      `json:"outputs"`
	Nodes        int              `json:"nodes"`
	Ops          []opCount        `json:"ops"`
	Parameters   int64            `json:"parameters"`
	Initializers int              `json:"initializers"`
	Unsupported  []unsupportedOp  `json:"unsupported"`
	Imports      bool             `json:"imports"`
	ImportError  string           `json:"import_error,omitempty"`
	// Int8 says, for each quantized Conv, Gemm and MatMul (one that
	// reads a DequantizeLinear), whether tensorquant run computes it in
	// int8 arithmetic, and why not.
	Int8      []int8Layer `json:"int8"`
	Int8Error string      `json:"int8_error,omitempty"`
	// SplitsBatch says whether the model computes each item of a batch
	// alone, so that tensorquant run splits a batch across the threads.
	SplitsBatch bool `json:"splits_batch"`
	// Winograd names the convolutions tensorquant run computes by
	// Winograd's F(2×2, 3×3) (float 3×3 stride-1 convolutions with
	// enough channels; see internal/nn).
	Winograd []string `json:"winograd"`
}

// int8Layer is one quantized layer of info's int8 list.
type int8Layer struct {
	Node   string   `json:"node"`
	Op     string   `json:"op"`
	Int8   bool     `json:"int8"`
	Output string   `json:"output,omitempty"` // int8, uint8 or float
	Fused  []string `json:"fused,omitempty"`  // ops computed with it
	Reason string   `json:"reason,omitempty"` // why it runs in float
}

// valueInfo is a graph input or output: its shape holds sizes (numbers),
// symbolic dimensions (their names) and "?" for unknown ones; it is null
// when even the rank is unknown.
type valueInfo struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []any  `json:"shape"`
}

type opCount struct {
	Op    string `json:"op"`
	Count int    `json:"count"`
}

type unsupportedOp struct {
	Op   string `json:"op"`
	Node string `json:"node"`
}

// runInfo describes an ONNX model: inputs, outputs, opsets, the op
// histogram, the parameter count, the unsupported ops, and whether it
// imports.
func runInfo(args []string, stdout, _ io.Writer) error {
	fs := newFlags("info", "[-json] MODEL.onnx",
		"tensorquant info resnet18.onnx\n\n"+
			"Prints the model's inputs and outputs (name, element type, shape: sizes, symbolic\n"+
			"dimensions by name, ? when unknown; output shapes as inference finds them when\n"+
			"the model imports), its opsets, the number of nodes of each op type, the\n"+
			"parameter count (the elements of every initializer), every op type tensorquant\n"+
			"does not support with the first node that uses it, whether the model imports,\n"+
			"and, for a QDQ model, which quantized Conv, Gemm and MatMul layers tensorquant\n"+
			"run computes in int8 arithmetic (with the ops fused after them and the type of\n"+
			"their output) and why the others run in float.", stdout)
	asJSON := fs.Bool("json", false, "print the description as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("want one model file after the flags, got %d (try -h)", fs.NArg())
	}
	path := fs.Arg(0)
	m, err := onnx.ReadFile(path)
	if err != nil {
		return err
	}
	info, err := describe(path, m)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	printInfo(stdout, info)
	return nil
}

// describe gathers what info prints; it imports the model (reading its
// external data) to learn whether it imports and its inferred outputs.
func describe(path string, m *onnx.Model) (*modelInfo, error) {
	if m.Graph == nil {
		return nil, errors.New("the model has no graph")
	}
	info := &modelInfo{Path: path, IRVersion: m.IRVersion, Producer: strings.TrimSpace(m.ProducerName + " " + m.ProducerVersion),
		Opsets: map[string]int64{}, Nodes: len(m.Graph.Node), Initializers: len(m.Graph.Initializer),
		Inputs: []valueInfo{}, Outputs: []valueInfo{}, Ops: []opCount{}, Unsupported: []unsupportedOp{}, Int8: []int8Layer{}}
	for _, o := range m.OpsetImport {
		d := o.Domain
		if d == "" {
			d = "ai.onnx"
		}
		info.Opsets[d] = o.Version
	}
	inits := map[string]bool{}
	for i := range m.Graph.Initializer {
		t := &m.Graph.Initializer[i]
		inits[t.Name] = true
		n, err := t.NumElements()
		if err != nil {
			return nil, err
		}
		if n > math.MaxInt64-info.Parameters {
			return nil, fmt.Errorf("initializer %q: the parameter count overflows", t.Name)
		}
		info.Parameters += n
	}
	for _, vi := range m.Graph.Input {
		if !inits[vi.Name] {
			info.Inputs = append(info.Inputs, declared(vi))
		}
	}
	for _, vi := range m.Graph.Output {
		info.Outputs = append(info.Outputs, declared(vi))
	}
	counts := map[string]int{}
	for _, n := range m.Graph.Node {
		op := n.OpType
		if n.Domain != "" && n.Domain != "ai.onnx" {
			op = n.Domain + "." + op
		}
		counts[op]++
	}
	for op, c := range counts {
		info.Ops = append(info.Ops, opCount{op, c})
	}
	sort.Slice(info.Ops, func(i, j int) bool {
		a, b := info.Ops[i], info.Ops[j]
		return a.Count > b.Count || a.Count == b.Count && a.Op < b.Op
	})
	var ue *graph.UnsupportedError
	if errors.As(graph.Unsupported(m), &ue) {
		for op, node := range ue.Ops {
			info.Unsupported = append(info.Unsupported, unsupportedOp{op, node})
		}
		sort.Slice(info.Unsupported, func(i, j int) bool { return info.Unsupported[i].Op < info.Unsupported[j].Op })
	}
	g, err := graph.ImportFile(path)
	if err != nil {
		info.ImportError = err.Error()
		return info, nil
	}
	info.Imports = true
	for i, o := range g.Outputs {
		info.Outputs[i] = valueInfo{o.Name, o.DType.String(), dims(o.Shape)}
	}
	s, err := graph.NewSession(g, graph.Options{Threads: 1})
	if err != nil {
		info.Int8Error = err.Error()
		return info, nil
	}
	for _, n := range s.Int8Nodes() {
		info.Int8 = append(info.Int8, int8Layer{Node: n.Node, Op: n.OpType, Int8: n.Int8, Output: n.Output, Fused: n.Fused, Reason: n.Reason})
	}
	info.SplitsBatch = s.SplitsBatch()
	info.Winograd = append([]string{}, s.WinogradNodes()...)
	return info, nil
}

// declared describes a value as the model declares it.
func declared(vi onnx.ValueInfo) valueInfo {
	v := valueInfo{Name: vi.Name, DType: "?"}
	if vi.Type == nil || vi.Type.Tensor == nil {
		return v
	}
	v.DType = vi.Type.Tensor.ElemType.String()
	if s := vi.Type.Tensor.Shape; s != nil {
		d := make([]graph.Dim, len(s.Dim))
		for i, x := range s.Dim {
			switch {
			case x.Param != "":
				d[i] = graph.Dim{Size: -1, Param: x.Param}
			case x.Value > 0:
				d[i] = graph.Dim{Size: int(x.Value)}
			default:
				d[i] = graph.Unknown()
			}
		}
		v.Shape = dims(d)
	}
	return v
}

// dims turns a shape into valueInfo's form.
func dims(shape []graph.Dim) []any {
	out := make([]any, len(shape))
	for i, d := range shape {
		if d.Known() {
			out[i] = d.Size
		} else {
			out[i] = d.String()
		}
	}
	return out
}

func shapeText(shape []any) string {
	if shape == nil {
		return "[rank unknown]"
	}
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func printInfo(w io.Writer, info *modelInfo) {
	var opsets []string
	for d, v := range info.Opsets {
		opsets = append(opsets, fmt.Sprintf("%s %d", d, v))
	}
	sort.Strings(opsets)
	fmt.Fprintf(w, "model:       %s\n", info.Path)
	fmt.Fprintf(w, "ir_version:  %d\n", info.IRVersion)
	if info.Producer != "" {
		fmt.Fprintf(w, "producer:    %s\n", info.Producer)
	}
	fmt.Fprintf(w, "opsets:      %s\n", strings.Join(opsets, ", "))
	values := func(title string, vs []valueInfo) {
		fmt.Fprintf(w, "%s\n", title)
		width := 0
		for _, v := range vs {
			width = max(width, len(v.Name))
		}
		for _, v := range vs {
			fmt.Fprintf(w, "  %-*s  %s%s\n", width, v.Name, v.DType, shapeText(v.Shape))
		}
	}
	values(fmt.Sprintf("inputs:      %d", len(info.Inputs)), info.Inputs)
	values(fmt.Sprintf("outputs:     %d", len(info.Outputs)), info.Outputs)
	fmt.Fprintf(w, "parameters:  %d (%d initializers)\n", info.Parameters, info.Initializers)
	fmt.Fprintf(w, "nodes:       %d\n", info.Nodes)
	width := 0
	for _, o := range info.Ops {
		width = max(width, len(o.Op))
	}
	for _, o := range info.Ops {
		fmt.Fprintf(w, "  %-*s  %d\n", width, o.Op, o.Count)
	}
	if len(info.Unsupported) == 0 {
		fmt.Fprintln(w, "unsupported: none")
	} else {
		fmt.Fprintf(w, "unsupported: %d op type(s)\n", len(info.Unsupported))
		for _, u := range info.Unsupported {
			fmt.Fprintf(w, "  %s (first node %q)\n", u.Op, u.Node)
		}
	}
	if !info.Imports {
		fmt.Fprintf(w, "imports:     no: %s\n", oneLine(errors.New(info.ImportError)))
		return
	}
	fmt.Fprintln(w, "imports:     yes")
	if info.Int8Error == "" {
		if info.SplitsBatch {
			fmt.Fprintln(w, "batch:       each item computed alone: a batch runs in chunks on every thread")
		} else {
			fmt.Fprintln(w, "batch:       runs whole (its ops share the threads)")
		}
		if len(info.Winograd) > 0 {
			fmt.Fprintf(w, "winograd:    %d convolution(s) by Winograd's F(2×2, 3×3): %s\n", len(info.Winograd), strings.Join(info.Winograd, ", "))
		}
	}
	printInt8(w, info)
}

// printInt8 prints which quantized layers run in int8.
func printInt8(w io.Writer, info *modelInfo) {
	switch {
	case info.Int8Error != "":
		fmt.Fprintf(w, "int8:        unknown: %s\n", oneLine(errors.New(info.Int8Error)))
		return
	case len(info.Int8) == 0:
		fmt.Fprintln(w, "int8:        no quantized Conv, Gemm or MatMul layers")
		return
	}
	n, width := 0, 0
	for _, l := range info.Int8 {
		if l.Int8 {
			n++
		}
		width = max(width, len(l.Node))
	}
	others := ""
	if n < len(info.Int8) {
		others = " (the others run in float)"
	}
	fmt.Fprintf(w, "int8:        %d of %d quantized layers%s\n", n, len(info.Int8), others)
	for _, l := range info.Int8 {
		if !l.Int8 {
			fmt.Fprintf(w, "  %-*s  %-6s  float: %s\n", width, l.Node, l.Op, l.Reason)
			continue
		}
		fused := ""
		if len(l.Fused) > 0 {
			fused = " (with " + strings.Join(l.Fused, ", ") + ")"
		}
		fmt.Fprintf(w, "  %-*s  %-6s  int8 → %s%s\n", width, l.Node, l.Op, l.Output, fused)
	}
}
