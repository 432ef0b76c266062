package fakequant

import (
	"fmt"

	"github.com/tensorquant/tensorquant/reduce"
)

// Block (group) quantization gives one amax to each block of blockSize
// consecutive elements along the last axis: the data is a sequence of rows
// of rowLen elements, each row is cut into ceil(rowLen/blockSize) blocks,
// and when rowLen is not a multiple of blockSize the last block of every
// row is shorter. Blocks are numbered row by row, so the amax (or scale) of
// a [rows][rowLen] tensor is a [rows][ceil(rowLen/blockSize)] tensor: the
// layout of ONNX QuantizeLinear/DequantizeLinear with block_size (opset 21)
// on the last axis, and of the weight-only INT4 formats of LLM deployment
// (block sizes 32, 64 and 128).

// NumBlocks returns the number of blocks of n elements viewed as rows of
// rowLen elements cut into blocks of blockSize: (n/rowLen) *
// ceil(rowLen/blockSize).
//
// It returns an error if n is negative, rowLen or blockSize is less than
// 1, or n is not a multiple of rowLen.
func NumBlocks(n, rowLen, blockSize int) (int, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("fakequant: negative element count %d", n)
	case blockSize < 1:
		return 0, fmt.Errorf("fakequant: block size %d is less than 1", blockSize)
	case rowLen < 1:
		return 0, fmt.Errorf("fakequant: row length %d is less than 1", rowLen)
	case n%rowLen != 0:
		return 0, fmt.Errorf("fakequant: %d elements do not split into rows of %d", n, rowLen)
	}
	return n / rowLen * ((rowLen + blockSize - 1) / blockSize), nil
}

// checkBlocks validates a block layout of n elements with nPer values per
// block (amax or scales) and a dst of nDst elements.
func checkBlocks(n, nDst, nPer, rowLen, blockSize int, what string) error {
	nb, err := NumBlocks(n, rowLen, blockSize)
	if err != nil {
		return err
	}
	if nPer != nb {
		return fmt.Errorf("fakequant: %d %s values for %d blocks (rows of %d, blocks of %d)", nPer, what, nb, rowLen, blockSize)
	}
	if nDst < n {
		return fmt.Errorf("fakequant: dst has %d elements for %d inputs", nDst, n)
	}
	return nil
}

// BlockAmax returns the abs-max of every block of x (see NumBlocks), each
// computed by reduce.AbsMax: NaN for a block that holds a NaN.
//
// It returns the errors of NumBlocks.
func BlockAmax(x []float32, rowLen, blockSize int) ([]float32, error) {
	nb, err := NumBlocks(len(x), rowLen, blockSize)
	if err != nil {
		return nil, err
	}
	amax := make([]float32, 0, nb)
	for r := 0; r < len(x); r += rowLen {
		for s := r; s < r+rowLen; s += blockSize {
			amax = append(amax, reduce.AbsMax(x[s:min(s+blockSize, r+rowLen)]))
		}
	}
	return amax, nil
}

// FakeQuantBlock fake-quantizes src with one amax per block (see
// NumBlocks; amax as BlockAmax returns it), each block exactly as FakeQuant
// does with that amax: the toolkit's integer rule scale = maxBound/amax,
// round half to even, torch's clamp, divided by scale. As in
// FakeQuantPerChannel, blocks with amax <= 2^-24 quantize to zero unless
// some amax is NaN. dst may be src. Like the other slice kernels it does
// not check the sign of inputs for unsigned formats.
//
// These are the numbers of the PyTorch toolkit's fake quantization, which
// differ in the last bit from an ONNX QuantizeLinear/DequantizeLinear pair
// (divide by amax/maxBound, multiply back); QuantizeInt4Block and
// DequantizeInt4Block compute the ONNX ones.
//
// It returns an error for an invalid f, the errors of NumBlocks, an amax
// count that is not the number of blocks, a dst shorter than src, and a
// negative amax element (ErrNegativeAmax, naming its index).
func FakeQuantBlock(dst, src, amax []float32, rowLen, blockSize int, f Format) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := checkBlocks(len(src), len(dst), len(amax), rowLen, blockSize, "amax"); err != nil {
		return err
	}
	if err := checkIntAmax(amax); err != nil {
		return err
	}
	lo, hi := f.Bounds()
	masking := maskingFor(amax)
	if blockSize >= runMin {
		b := 0
		for r := 0; r < len(src); r += rowLen {
			for s := r; s < r+rowLen; s += blockSize {
				e := min(s+blockSize, r+rowLen)
				sq, so := scales(amax[b], hi, masking)
				fakeQuant(dst[s:e], src[s:e], sq, so, lo, hi)
				b++
			}
		}
		return nil
	}
	// Short blocks: a scale pair per element, one kernel call.
	sq, so := make([]float32, len(src)), make([]float32, len(src))
	b := 0
	for r := 0; r < len(src); r += rowLen {
		for s := r; s < r+rowLen; s += blockSize {
			q, o := scales(amax[b], hi, masking)
			for i := s; i < min(s+blockSize, r+rowLen); i++ {
				sq[i], so[i] = q, o
			}
			b++
		}
	}
	fakeQuantVec(dst[:len(src)], src, sq, so, lo, hi)
	return nil
}
