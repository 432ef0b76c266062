package graph

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/tensorquant/tensorquant/onnx"
)

// The int8-pool pass runs
//
//	DequantizeLinear(x codes) → GlobalAveragePool → QuantizeLinear
//
// (per tensor, constant parameters: the original's input quantizer of an
// average pooling, before the next layer's, as in the squeeze-and-
// excitation blocks of MobileNetV3 and EfficientNet) as one QGlobalAveragePool node on
// the codes, ONNX Runtime's QLinearGlobalAveragePool (also with a
// Flatten from axis 1 between the pooling and the QuantizeLinear, as a
// classifier's head has it: the node then writes the flattened codes,
// [N, C]): each channel's
// codes summed in int32, then
//
//	y = saturate(roundHalfEven(float32(Σ x − N·zx) · s) + zy),  s = x_scale / (y_scale · float32(N))
//
// with N the pixels of a channel. The float graph dequantizes every
// code, sums the floats and quantizes their mean: the two differ where
// the float sum's rounding moves the mean across a rounding boundary of
// the output, by one step. The dequantized values themselves are never
// written (the DequantizeLinear stays only for other readers).

func init() {
	RegisterPass(Pass{Name: "int8-pool", Stage: StageInt8 + 10, Integer: true, Apply: int8PoolPass})
}

// int8PoolPass replaces each DequantizeLinear → GlobalAveragePool →
// QuantizeLinear chain by a QGlobalAveragePool node.
func int8PoolPass(r *Rewriter) error {
	for _, n := range r.Nodes() {
		if !r.Alive(n) || !onnxOp(n, "GlobalAveragePool") || len(n.Outputs) != 1 {
			continue
		}
		if o, ok := n.Op.(*globalPoolOp); !ok || o.max {
			continue
		}
		dq := r.producer(n.Inputs[0])
		if !onnxOp(dq, "DequantizeLinear") {
			continue
		}
		x, err := activationCodes(r, dq)
		xi := r.Info(x.codes)
		if err != nil || xi == nil || xi.Rank() < 3 {
			continue
		}
		q, ys, zy, yType := quantizeAfter(r, n.Outputs[0])
		chain := []*Node{n}
		flat := false
		if f := r.SoleReader(n.Outputs[0]); q == nil && flattensChannels(f, xi.Rank()) {
			q, ys, zy, yType = quantizeAfter(r, f.Outputs[0])
			chain, flat = append(chain, f), true
		}
		if q == nil {
			continue
		}
		chain = append(chain, q)
		if r.SoleReader(dq.Outputs[0]) == n {
			chain = append([]*Node{dq}, chain...)
		}
		r.Replace(chain, &Node{Name: n.Name, Domain: FusedDomain, OpType: "QGlobalAveragePool",
			Inputs: []string{x.codes}, Outputs: q.Outputs,
			Op: &qGlobalPoolOp{xType: x.dtype, yType: yType, zx: x.zp, zy: zy, xs: x.scale, ys: ys, flat: flat}})
	}
	return nil
}

// flattensChannels reports whether f is a Flatten from axis 1 of a
// pooled value of the given rank ([N, C, 1, ...] to [N, C]).
func flattensChannels(f *Node, rank int) bool {
	if !onnxOp(f, "Flatten") || len(f.Outputs) != 1 {
		return false
	}
	o, ok := f.Op.(*flattenOp)
	return ok && (o.axis == 1 || o.axis == 1-rank)
}

// qGlobalPoolOp is QLinearGlobalAveragePool: codes [N, C, spatial...]
// (or, once the nhwc pass sets nhwc, [N, spatial..., C]) in, codes [N, C,
// 1, ...] out ([N, C] when flat).
type qGlobalPoolOp struct {
	xType, yType onnx.DataType
	zx, zy       int32
	xs, ys       float32
	nhwc, flat   bool
}

// shape returns the batch, channels and pixels per channel of input x.
func (o *qGlobalPoolOp) shape(x []Dim) (n, c, pixels Dim) {
	n, c, pixels = x[0], x[1], Dim{Size: 1}
	spatial := x[2:]
	if o.nhwc {
		c, spatial = x[len(x)-1], x[1:len(x)-1]
	}
	for _, d := range spatial {
		if !d.Known() || !pixels.Known() {
			pixels = Dim{}
			continue
		}
		pixels.Size *= d.Size
	}
	return n, c, pixels
}

func (o *qGlobalPoolOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if x.DType != o.xType || x.Rank() < 3 {
		return nil, fmt.Errorf("input %v: want %v of rank 3 or more", x, o.xType)
	}
	n, c, _ := o.shape(x.Shape)
	out := []Dim{n, c}
	for i := 2; i < x.Rank() && !o.flat; i++ {
		out = append(out, Dim{Size: 1})
	}
	return []*Info{info(o.yType, out)}, nil
}

func (o *qGlobalPoolOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if x.DType != o.xType || len(x.Shape) < 3 {
		return nil, fmt.Errorf("input %v: want %v of rank 3 or more", x, o.xType)
	}
	n, c, pix := o.shape(Sizes(x.Shape...))
	out := []int{n.Size, c.Size}
	for i := 2; i < len(x.Shape) && !o.flat; i++ {
		out = append(out, 1)
	}
	y, err := ctx.Alloc(o.yType, out...)
	if err != nil {
		return nil, err
	}
	if pix.Size == 0 || pix.Size >= 1<<23 { // int32 sums of bytes
		return nil, fmt.Errorf("input %v: %d pixels per channel (want 1 to 2^23 − 1)", x, pix.Size)
	}
	codes := x.U8
	var sign byte // the top bit flip that makes int8 codes uint8 + 128
	if x.DType == onnx.Int8 {
		codes, sign = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x.I8))), len(x.I8)), 0x80
	}
	// Sums of uint8 values b = code + 128·signed, so Σ code = Σ b − N·128.
	zx := o.zx
	if sign != 0 {
		zx += 128
	}
	scale := o.xs / (o.ys * float32(pix.Size))
	lo, hi := codeRange(o.yType)
	sums := make([]int32, n.Size*c.Size)
	if o.nhwc {
		ctx.Parallel(n.Size, 1, func(b0, b1 int) {
			for b := b0; b < b1; b++ {
				channelSums(sums[b*c.Size:(b+1)*c.Size], codes[b*pix.Size*c.Size:(b+1)*pix.Size*c.Size], sign)
			}
		})
	} else {
		ctx.Parallel(len(sums), max(1, grainElems/pix.Size), func(p0, p1 int) {
			for p := p0; p < p1; p++ {
				sums[p] = int32(byteSum(codes[p*pix.Size:(p+1)*pix.Size], sign))
			}
		})
	}
	for i, s := range sums {
		// Clamped before it is rounded, as the bounds are integers.
		v := float32(s-zx*int32(pix.Size)) * scale
		if v != v { // 0·Inf (a scale ratio beyond float32): the mean is the zero point
			v = 0
		}
		v = min(max(v, float32(lo-o.zy)), float32(hi-o.zy))
		q := int32(math.RoundToEven(float64(v))) + o.zy
		if o.yType == onnx.Int8 {
			y.I8[i] = int8(q)
		} else {
			y.U8[i] = uint8(q)
		}
	}
	return []*Tensor{y}, nil
}

// The sums of bytes run eight at a time in the 16-bit lanes of two
// uint64 (the even bytes and the odd ones): lane sums of at most
// swarRun words stay below 2^16.
const (
	swarEven = 0x00FF00FF00FF00FF
	swarRun  = 257 // 257·255 = 65535
)

// byteSum returns the sum of b's bytes, each xor sign.
func byteSum(b []byte, sign byte) uint32 {
	flip := uint64(sign) * 0x0101010101010101
	var total uint32
	for len(b) >= 8 {
		var even, odd uint64
		for k := 0; k < swarRun && len(b) >= 8; k++ {
			v := binary.LittleEndian.Uint64(b) ^ flip
			even += v & swarEven
			odd += v >> 8 & swarEven
			b = b[8:]
		}
		total += laneSum(even) + laneSum(odd)
	}
	for _, v := range b {
		total += uint32(v ^ sign)
	}
	return total
}

// laneSum returns the sum of the four 16-bit lanes of v.
func laneSum(v uint64) uint32 {
	return uint32(v&0xFFFF) + uint32(v>>16&0xFFFF) + uint32(v>>32&0xFFFF) + uint32(v>>48)
}

// channelSums adds to sums[ch] the bytes (each xor sign) of channel ch
// of img, pixels of len(sums) channels one after the other (NHWC): eight
// channels at a time down a run of pixels, their sums in registers.
func channelSums(sums []int32, img []byte, sign byte) {
	c := len(sums)
	flip := uint64(sign) * 0x0101010101010101
	for p0 := 0; p0 < len(img); p0 += swarRun * c {
		run := img[p0:min(p0+swarRun*c, len(img))]
		ch := 0
		for ; ch+8 <= c; ch += 8 {
			var even, odd uint64
			for p := ch; p < len(run); p += c {
				v := binary.LittleEndian.Uint64(run[p:]) ^ flip
				even += v & swarEven
				odd += v >> 8 & swarEven
			}
			for k := range 4 {
				sums[ch+2*k] += int32(even >> (16 * k) & 0xFFFF)
				sums[ch+2*k+1] += int32(odd >> (16 * k) & 0xFFFF)
			}
		}
		for ; ch < c; ch++ {
			var s int32
			for p := ch; p < len(run); p += c {
				s += int32(run[p] ^ sign)
			}
			sums[ch] += s
		}
	}
}
