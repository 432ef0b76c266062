//go:build gc && !purego

#include "textflag.h"
#include "go_asm.h"

// The torch.histc binning kernels (see histcGeneric for the rule). Each
// vector of elements gets its slot indices in registers: |x|, the range test
// (ordered compares, so NaN fails it), (v-lo)/rng*fn truncated and clamped to
// [0, n-1], the trash slots n (dropped zero) and n+1 (NaN, out of range)
// blended in, and the lane's sub-histogram offset added. The indices are
// moved to general registers two at a time (VMOVQ, VPEXTRQ; a spill to the
// stack and reloads was half as fast, the reloads waiting on the wide
// store) and counted with scalar increments: consecutive lanes count into
// different sub-histograms, so repeated bins do not wait on each other's
// stores.

// func histcAVX512(sub []uint32, x []float32, p *histcParams)
TEXT ·histcAVX512(SB), NOSPLIT, $0-56
	MOVQ sub_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	MOVQ p+48(FP), DX
	SHRQ $4, CX                          // vectors of 16
	JZ   done512
	VBROADCASTSS histcParams_lo(DX), Z16
	VBROADCASTSS histcParams_hi(DX), Z17
	VBROADCASTSS histcParams_rng(DX), Z18
	VBROADCASTSS histcParams_fn(DX), Z19
	VBROADCASTSS histcParams_zero(DX), Z26
	VPBROADCASTD histcParams_last(DX), Z20
	VPBROADCASTD histcParams_trashOut(DX), Z21
	VPBROADCASTD histcParams_trashZero(DX), Z22
	VMOVDQU32 histcParams_laneOff(DX), Z24
	VPXORD Z25, Z25, Z25                 // 0
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z23                 // abs mask

loop512:
	VPANDD (SI), Z23, Z0                 // v = |x|
	VCMPPS $0x1d, Z16, Z0, K1            // K1 = v >= lo (GE_OQ)
	VCMPPS $0x12, Z17, Z0, K1, K1        // K1 &= v <= hi (LE_OQ)
	VCMPPS $0x00, Z26, Z0, K1, K2        // K2 = K1 && v == zero (EQ_OQ)
	VSUBPS Z16, Z0, Z1                   // v - lo
	VDIVPS Z18, Z1, Z1                   // / rng
	VMULPS Z19, Z1, Z1                   // * fn
	VCVTTPS2DQ Z1, Z1                    // truncate
	VPMINSD Z20, Z1, Z1                  // min(., n-1)
	VPMAXSD Z25, Z1, Z1                  // max(., 0)
	VMOVDQA32 Z21, Z2                    // slot = n+1
	VMOVDQA32 Z1, K1, Z2                 // in range: the bin
	VMOVDQA32 Z22, K2, Z2                // dropped zero: n
	VPADDD Z24, Z2, Z2                   // + sub-histogram offset
	VEXTRACTI32X4 $1, Z2, X3
	VEXTRACTI32X4 $2, Z2, X4
	VEXTRACTI32X4 $3, Z2, X5
	VMOVQ X2, AX
	VPEXTRQ $1, X2, BX
	MOVL AX, R8
	SHRQ $32, AX
	MOVL BX, R9
	SHRQ $32, BX
	INCL (DI)(R8*4)
	INCL (DI)(AX*4)
	INCL (DI)(R9*4)
	INCL (DI)(BX*4)
	VMOVQ X3, AX
	VPEXTRQ $1, X3, BX
	MOVL AX, R8
	SHRQ $32, AX
	MOVL BX, R9
	SHRQ $32, BX
	INCL (DI)(R8*4)
	INCL (DI)(AX*4)
	INCL (DI)(R9*4)
	INCL (DI)(BX*4)
	VMOVQ X4, AX
	VPEXTRQ $1, X4, BX
	MOVL AX, R8
	SHRQ $32, AX
	MOVL BX, R9
	SHRQ $32, BX
	INCL (DI)(R8*4)
	INCL (DI)(AX*4)
	INCL (DI)(R9*4)
	INCL (DI)(BX*4)
	VMOVQ X5, AX
	VPEXTRQ $1, X5, BX
	MOVL AX, R8
	SHRQ $32, AX
	MOVL BX, R9
	SHRQ $32, BX
	INCL (DI)(R8*4)
	INCL (DI)(AX*4)
	INCL (DI)(R9*4)
	INCL (DI)(BX*4)
	ADDQ $64, SI
	DECQ CX
	JNZ  loop512
	VZEROUPPER

done512:
	RET

// func histcAVX2(sub []uint32, x []float32, p *histcParams)
TEXT ·histcAVX2(SB), NOSPLIT, $0-56
	MOVQ sub_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	MOVQ p+48(FP), DX
	SHRQ $3, CX                          // vectors of 8
	JZ   done2
	VBROADCASTSS histcParams_lo(DX), Y8
	VBROADCASTSS histcParams_hi(DX), Y9
	VBROADCASTSS histcParams_rng(DX), Y10
	VBROADCASTSS histcParams_fn(DX), Y11
	VBROADCASTSS histcParams_zero(DX), Y6
	VPBROADCASTD histcParams_last(DX), Y12
	VPBROADCASTD histcParams_trashOut(DX), Y13
	VPBROADCASTD histcParams_trashZero(DX), Y14
	VMOVDQU histcParams_laneOff(DX), Y15
	VPXOR Y7, Y7, Y7                     // 0

loop2:
	VMOVUPS (SI), Y0
	VPSLLD $1, Y0, Y0
	VPSRLD $1, Y0, Y0                    // v = |x|
	VCMPPS $0x1d, Y8, Y0, Y3             // v >= lo (GE_OQ)
	VCMPPS $0x12, Y9, Y0, Y4             // v <= hi (LE_OQ)
	VANDPS Y4, Y3, Y3                    // in range
	VCMPPS $0x00, Y6, Y0, Y5             // v == zero (EQ_OQ)
	VANDPS Y3, Y5, Y5                    // dropped zero
	VSUBPS Y8, Y0, Y1                    // v - lo
	VDIVPS Y10, Y1, Y1                   // / rng
	VMULPS Y11, Y1, Y1                   // * fn
	VCVTTPS2DQ Y1, Y1                    // truncate
	VPMINSD Y12, Y1, Y1                  // min(., n-1)
	VPMAXSD Y7, Y1, Y1                   // max(., 0)
	VBLENDVPS Y3, Y1, Y13, Y2            // in range ? bin : n+1
	VBLENDVPS Y5, Y14, Y2, Y2            // dropped zero ? n : slot
	VPADDD Y15, Y2, Y2                   // + sub-histogram offset
	VEXTRACTI128 $1, Y2, X3
	VMOVQ X2, AX
	VPEXTRQ $1, X2, BX
	MOVL AX, R8
	SHRQ $32, AX
	MOVL BX, R9
	SHRQ $32, BX
	INCL (DI)(R8*4)
	INCL (DI)(AX*4)
	INCL (DI)(R9*4)
	INCL (DI)(BX*4)
	VMOVQ X3, AX
	VPEXTRQ $1, X3, BX
	MOVL AX, R8
	SHRQ $32, AX
	MOVL BX, R9
	SHRQ $32, BX
	INCL (DI)(R8*4)
	INCL (DI)(AX*4)
	INCL (DI)(R9*4)
	INCL (DI)(BX*4)
	ADDQ $32, SI
	DECQ CX
	JNZ  loop2
	VZEROUPPER

done2:
	RET
