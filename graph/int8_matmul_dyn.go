package graph

import "fmt"

// int8MatMulDynamic builds the integer node of MatMul n whose second
// input is dequantized from computed codes too (attention's Q·Kᵀ and P·V
// when both inputs carry a QuantizeLinear/DequantizeLinear pair, as ONNX
// Runtime's quantizer and `quantize -activation-matmul` place them): both
// per tensor, B packed on every run.
func int8MatMulDynamic(r *Rewriter, n *Node, x qInput) (*Node, qEpilogue, error) {
	var e qEpilogue
	b, err := activationCodes(r, r.producer(n.Inputs[1]))
	if err != nil {
		return nil, e, fmt.Errorf("its second input: %v", err)
	}
	xi, bi := r.Info(x.codes), r.Info(b.codes)
	if xi == nil || bi == nil || xi.Rank() < 2 || bi.Rank() < 2 {
		return nil, e, fmt.Errorf("its inputs are not matrices (or batches of them)")
	}
	if k := xi.Shape[xi.Rank()-1]; !k.Known() || k.Size == 0 || k != bi.Shape[bi.Rank()-2] {
		return nil, e, fmt.Errorf("its inputs' depths %v and %v are not one known size", k, bi.Shape[bi.Rank()-2])
	}
	// One scale for every column: a_scale·b_scale.
	e = epilogueAfter(r, n.Outputs[0], 1, 0).quantizedOrBias()
	o := &dynQMatMulOp{b: b.codes, za: x.zp, zb: b.zp}
	if o.out, err = e.output(x, qWeights{scale: []float32{b.scale}, zp: []int32{b.zp}}, 1); err != nil {
		return nil, e, err
	}
	return &Node{OpType: "QMatMulDynamic", Op: o}, e, nil
}

// dynQMatMulOp is the int8 pass's MatMul of two quantized activations
// (int8MatMulDynamic): the codes of A [..., M, K] and B [..., K, N] with
// MatMul's broadcasting of batch dimensions, each batch's B packed as it
// runs (codeMatMul), and the product dequantized (or requantized) by one
// scale.
type dynQMatMulOp struct {
	b      string // B's codes, the node's second input
	za, zb int32
	out    qOut
}

func (o *dynQMatMulOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	if !isCode(in[0].DType) || !isCode(in[1].DType) {
		return nil, fmt.Errorf("operands are %v and %v, want INT8 or UINT8", in[0].DType, in[1].DType)
	}
	shape, err := matmulDims(in[0].Shape, in[1].Shape)
	if err != nil {
		return nil, err
	}
	return []*Info{info(o.out.dtype, shape)}, nil
}

func (o *dynQMatMulOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	p, err := newCodeMatMul(in[0], in[1])
	if err != nil {
		return nil, err
	}
	y, err := p.run(ctx, in[0], in[1], o.za, []int32{o.zb}, o.out)
	if err != nil {
		return nil, err
	}
	return []*Tensor{y}, nil
}
