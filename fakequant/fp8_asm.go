//go:build (amd64 || arm64) && gc && !purego

package fakequant

import "math"

// fp8Vec holds the constants of one FP8 format for the assembly kernels,
// each replicated in the 8 lanes of a 256-bit row so that AVX2 uses a row
// as a memory operand, and AVX-512 and NEON broadcast or load its first
// lanes. The row indices are mirrored by the V_* offsets (index*32 bytes)
// in the .s files.
type fp8Vec [fp8VecRows][8]uint32

const (
	vAbsMask   = iota // 0x7FFFFFFF: clears the sign bit
	vOne              // 1
	vRoundBias        // 1<<(shift-1) - 1: round half to even with the kept lsb
	vHiMask           // ^(1<<shift - 1): the float32 bits an FP8 value keeps
	vExpAdj           // (127-bias) << 23: float32 to FP8 exponent
	vMinNormal        // bits of the smallest normal FP8 value
	vSatBits          // bits of the largest |x| that does not overflow
	vInfBits          // 0x7F800000: |x| bits above it are NaN
	vMagic            // bits of magic (subnormal rounding)
	vMaxBits          // bits of max
	vSignByte         // 0x80: the sign bit of a code
	vNaNCode          // 0x7F
	vMaxCode          // code of max: the saturated overflow
	vOvfCode          // code of an overflow without saturation
	vDecMul           // bits of 2^(127-bias): code bits in a float32 to value
	vNaNAbove         // |code| above this is NaN (0x7E or 0x7C)
	vInfCode          // |code| of Inf (0x7C), or 0xFF: none
	vQNaN             // 0x7FC00000, the NaN a NaN code decodes to
	vShift            // shift, as a shift count
	vNegShift         // -shift: a right shift by shift for NEON's USHL
	fp8VecRows
)

var fp8VecE4M3FN, fp8VecE5M2 = newFP8Vec(&fp8E4M3FN), newFP8Vec(&fp8E5M2)

func newFP8Vec(p *fp8Params) *fp8Vec {
	row := [fp8VecRows]uint32{
		vAbsMask:   0x7FFFFFFF,
		vOne:       1,
		vRoundBias: p.roundBias,
		vHiMask:    ^p.lowMask,
		vExpAdj:    p.expAdj,
		vMinNormal: p.minNormal,
		vSatBits:   p.satBits,
		vInfBits:   0x7F800000,
		vMagic:     p.magicBits,
		vMaxBits:   p.maxBits,
		vSignByte:  0x80,
		vNaNCode:   fp8NaN,
		vMaxCode:   uint32(p.maxCode),
		vOvfCode:   uint32(p.ovfCode),
		vDecMul:    math.Float32bits(p.decMul),
		vNaNAbove:  uint32(p.nanMin) - 1,
		vInfCode:   uint32(p.infCode),
		vQNaN:      0x7FC00000,
		vShift:     p.shift,
		vNegShift:  -p.shift,
	}
	v := new(fp8Vec)
	for i, c := range row {
		for l := range v[i] {
			v[i][l] = c
		}
	}
	return v
}

// fp8Big returns the row of k = fp8VecOf(p) that holds the code of an
// overflow: the code of max with saturation, else NaN (E4M3FN) or Inf
// (E5M2).
func fp8Big(p *fp8Params, saturate bool) *[8]uint32 {
	if saturate {
		return &fp8VecOf(p)[vMaxCode]
	}
	return &fp8VecOf(p)[vOvfCode]
}

func fp8VecOf(p *fp8Params) *fp8Vec {
	if p == &fp8E5M2 {
		return fp8VecE5M2
	}
	return fp8VecE4M3FN
}
