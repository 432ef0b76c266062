package quantize

import (
	"fmt"
	"regexp"
	"slices"
	"sync"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
)

// Kind tells activation quantizers from weight quantizers.
type Kind int

// The kinds of quantizer.
const (
	// Activation quantizers are calibrated on the values a forward pass
	// computes, per tensor.
	Activation Kind = iota
	// Weight quantizers are calibrated on a constant initializer, per
	// channel by default.
	Weight
)

// String returns "activation" or "weight".
func (k Kind) String() string {
	if k == Weight {
		return "weight"
	}
	return "activation"
}

// Site is one quantizer: a QuantizeLinear/DequantizeLinear pair on one
// input of one node. Every consumer of a value gets its own pair (the
// original puts three on the tensor that q, k and v read).
type Site struct {
	// Name names the quantizer after its node: "NODE/input_quantizer"
	// (input 0), "NODE/input1_quantizer" (input 1 of an activation MatMul
	// or a residual Add), "NODE/weight_quantizer". Its Q/DQ nodes are
	// NAME/QuantizeLinear and NAME/DequantizeLinear.
	Name string `json:"name"`
	// Node and OpType are the consumer node's; Input is the index of the
	// node input quantized, and Value the value it reads.
	Node   string `json:"node"`
	OpType string `json:"op_type"`
	Input  int    `json:"input"`
	Value  string `json:"value"`
	Kind   Kind   `json:"kind"`
	// Axis is the channel axis of a weight quantized per channel (0 for
	// Conv and Gemm with transB=1, 1 for ConvTranspose, Gemm with
	// transB=0 and a MatMul's [in, out] weight), -1 per tensor.
	Axis int `json:"axis"`
	// Unsigned activations (UnsignedAfterReLU) are quantized to UINT8.
	Unsigned bool `json:"unsigned,omitempty"`
	// Group indexes the activation's calibrator in Plan.Groups (sites on
	// one value in one format share it); -1 for weights.
	Group int `json:"group"`
}

// Unquantized is a node of a quantizable op type that Place left float,
// and why.
type Unquantized struct {
	Node, OpType, Reason string
}

// Group is the calibrator of the activation quantizers on one value:
// they see the same tensor, so one histogram serves them all.
type Group struct {
	Value    string
	Unsigned bool
}

// Plan is where the quantizers of a float graph go: the sites, in the
// order of the graph's nodes (inputs before weights within a node), and
// the calibrators of the activations. Place makes one; Calibrate
// collects what its activations see, and Apply writes the QDQ graph.
type Plan struct {
	Sites       []Site
	Groups      []Group
	Unquantized []Unquantized
	// Options are Place's options with the defaults filled in.
	Options Options

	g      *graph.Graph
	fpOnce sync.Once
	fp     [32]byte // the model's fingerprint (see fingerprint)
}

// Graph returns the float graph the plan is for.
func (p *Plan) Graph() *graph.Graph { return p.g }

// reluPreserving are the op types through which a value that came from a
// Relu stays non-negative (UnsignedAfterReLU).
var reluPreserving = []string{"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Flatten", "Reshape",
	"Transpose", "Squeeze", "Unsqueeze", "Identity"}

// Place decides where the quantizers of g go. g must be inferred (Import
// and ImportFile do it; a graph built by hand needs g.Infer()) and float:
// a graph that already holds quantization nodes is refused.
//
// The default placement is the original toolkit's, which its export
// shows on two models node for node (testdata/conformance/onnx_ptq): a
// per-tensor quantizer on input 0 and a per-channel weight quantizer on
// the constant weight (input 1) of every Conv, ConvTranspose, Gemm and
// MatMul whose input 1 is a constant, and a quantizer on the input of
// AveragePool and GlobalAveragePool; biases, Relu, MaxPool, residual
// Add, Softmax, normalisations and MatMuls of two computed values stay
// float. The weight's channel axis is its output channels: 0 for Conv
// and Gemm with transB=1, 1 for ConvTranspose ([in, out/group, ...], as
// the original), Gemm with transB=0 and MatMul ([in, out]: PyTorch
// exports a Linear on a 3-D input as MatMul with the transposed weight).
// Options add and remove quantizers (see Options).
//
// It returns an error for options it cannot use, a graph that is not
// inferred, and one that is already quantized.
func Place(g *graph.Graph, o Options) (*Plan, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	exclude := regexp.MustCompile(o.NodesToExclude) // checked by withDefaults
	if o.NodesToExclude == "" {
		exclude = nil
	}
	producer := map[string]*graph.Node{}
	for _, n := range g.Nodes {
		switch n.OpType {
		case "QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "DynamicQuantizeLinear":
			return nil, fmt.Errorf("quantize: the graph is already quantized: node %q is a %s", n.Name, n.OpType)
		}
		for _, v := range n.Outputs {
			producer[v] = n
		}
	}
	for _, in := range g.Inputs {
		if g.Info(in.Name) == nil {
			return nil, fmt.Errorf("quantize: the graph is not inferred (call Infer first)")
		}
	}
	p := &Plan{Options: o, g: g}
	groups := map[Group]int{}
	types := o.OpTypesToQuantize
	if o.QuantizeResidualAdd && !slices.Contains(types, "Add") {
		types = append(slices.Clone(types), "Add")
	}
	computed := func(v string) bool {
		info := g.Info(v)
		return v != "" && info != nil && info.Const == nil && info.DType == onnx.Float
	}
	constWeight := func(v string) bool {
		info := g.Info(v)
		return v != "" && info != nil && info.Const != nil && info.Const.DType == onnx.Float && len(info.Const.Shape) >= 2
	}
	for _, n := range g.Nodes {
		if !slices.Contains(types, n.OpType) || slices.Contains(o.OpTypesToExclude, n.OpType) {
			if slices.Contains(placeable, n.OpType) && n.OpType != "Add" {
				p.Unquantized = append(p.Unquantized, Unquantized{n.Name, n.OpType, "op type not quantized (OpTypesToQuantize, OpTypesToExclude)"})
			}
			continue
		}
		if exclude != nil && exclude.MatchString(n.Name) {
			p.Unquantized = append(p.Unquantized, Unquantized{n.Name, n.OpType, "name matches NodesToExclude"})
			continue
		}
		in := func(k int) string {
			if k < len(n.Inputs) {
				return n.Inputs[k]
			}
			return ""
		}
		var acts []int
		weightAxis := -2 // no weight
		switch n.OpType {
		case "AveragePool", "GlobalAveragePool":
			if computed(in(0)) {
				acts = []int{0}
			}
		case "Conv", "ConvTranspose", "Gemm", "MatMul":
			switch {
			case computed(in(0)) && constWeight(in(1)):
				acts = []int{0}
				weightAxis = channelAxis(n, len(g.Info(in(1)).Const.Shape))
			case n.OpType == "MatMul" && computed(in(0)) && computed(in(1)):
				if !o.QuantizeActivationMatMul {
					p.Unquantized = append(p.Unquantized, Unquantized{n.Name, n.OpType, "MatMul of two computed values (QuantizeActivationMatMul)"})
					continue
				}
				acts = []int{0, 1}
			default:
				p.Unquantized = append(p.Unquantized, Unquantized{n.Name, n.OpType, "input 0 is not a computed float value or input 1 not a constant float weight"})
				continue
			}
		case "Add":
			if computed(in(0)) && computed(in(1)) {
				acts = residualInputs(n, producer)
			}
		}
		for _, k := range acts {
			unsigned := o.UnsignedAfterReLU && fromReLU(in(k), producer)
			key := Group{in(k), unsigned}
			gi, ok := groups[key]
			if !ok {
				gi = len(p.Groups)
				groups[key] = gi
				p.Groups = append(p.Groups, key)
			}
			name := n.Name + "/input_quantizer"
			if k > 0 {
				name = fmt.Sprintf("%s/input%d_quantizer", n.Name, k)
			}
			p.Sites = append(p.Sites, Site{Name: name, Node: n.Name, OpType: n.OpType, Input: k, Value: in(k),
				Kind: Activation, Axis: -1, Unsigned: unsigned, Group: gi})
		}
		if weightAxis >= -1 {
			if o.PerTensorWeights {
				weightAxis = -1
			}
			p.Sites = append(p.Sites, Site{Name: n.Name + "/weight_quantizer", Node: n.Name, OpType: n.OpType, Input: 1, Value: in(1),
				Kind: Weight, Axis: weightAxis, Group: -1})
		}
	}
	return p, nil
}

// channelAxis returns the output-channel axis of the weight (of the given
// rank) of a Conv, ConvTranspose, Gemm or MatMul node.
func channelAxis(n *graph.Node, rank int) int {
	switch n.OpType {
	case "ConvTranspose":
		return 1
	case "Gemm":
		if t, _ := graph.NewAttrs(n.Attrs).Int("transB", 0); t == 0 {
			return 1
		}
	case "MatMul":
		return rank - 1
	}
	return 0
}

// residualInputs returns the inputs of a residual Add to quantize (see
// Options.QuantizeResidualAdd).
func residualInputs(n *graph.Node, producer map[string]*graph.Node) []int {
	conv := func(v string) bool {
		p := producer[v]
		if p != nil && p.OpType == "BatchNormalization" {
			p = producer[p.Inputs[0]]
		}
		return p != nil && (p.OpType == "Conv" || p.OpType == "ConvTranspose")
	}
	c0, c1 := conv(n.Inputs[0]), conv(n.Inputs[1])
	switch {
	case c0 && c1, c0:
		return []int{1}
	case c1:
		return []int{0}
	}
	return []int{0, 1}
}

// fromReLU reports whether v is the output of a Relu, directly or through
// ops that keep it non-negative.
func fromReLU(v string, producer map[string]*graph.Node) bool {
	for range len(producer) + 1 {
		p := producer[v]
		switch {
		case p == nil:
			return false
		case p.OpType == "Relu":
			return true
		case !slices.Contains(reluPreserving, p.OpType) || len(p.Inputs) == 0:
			return false
		}
		v = p.Inputs[0]
	}
	return false
}
