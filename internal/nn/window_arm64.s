//go:build gc && !purego

#include "textflag.h"

// The NEON kernels of the sliding-window rows (window_generic.go is the
// specification): dwRowK*S* add, tap by tap, the rounded products of the
// weights with the taps to out (FMUL then FADD, never a fused FMLA, so the
// bits are dwRowGeneric's); maxRowK*S* let a tap replace the maximum where
// it is greater or NaN (FCMGT, FCMEQ of the tap with itself, ORN, BIT:
// maxRowGeneric's choice, the last NaN and the first of equal values).
// Four outputs per vector; len(out) is a multiple of 4 (the caller does
// the rest). Stride 2 takes the even elements of each pair of vectors with
// LD2, which reads one element past the last tap of the last window.
//
// The Go assembler has no mnemonics for these vector instructions; the
// encodings follow the Arm ARM (A64 Advanced SIMD three same) and decode
// back in go tool objdump. The macros take (m, n, d).
#define FADD4S(m, n, d)  WORD $(0x4e20d400 | ((m)<<16) | ((n)<<5) | (d)) // fadd  vd.4s, vn.4s, vm.4s
#define FMUL4S(m, n, d)  WORD $(0x6e20dc00 | ((m)<<16) | ((n)<<5) | (d)) // fmul  vd.4s, vn.4s, vm.4s
#define FCMGT4S(m, n, d) WORD $(0x6ea0e400 | ((m)<<16) | ((n)<<5) | (d)) // fcmgt vd.4s, vn.4s, vm.4s (n > m)
#define FCMEQ4S(m, n, d) WORD $(0x4e20e400 | ((m)<<16) | ((n)<<5) | (d)) // fcmeq vd.4s, vn.4s, vm.4s (n == m)
#define ORN16B(m, n, d)  WORD $(0x4ee01c00 | ((m)<<16) | ((n)<<5) | (d)) // orn   vd.16b, vn.16b, vm.16b (n | ^m)
#define BIT16B(m, n, d)  WORD $(0x6ea01c00 | ((m)<<16) | ((n)<<5) | (d)) // bit   vd.16b, vn.16b, vm.16b (d = m ? n : d)


// func dwRowK3S1NEON(out, row, w []float32)
TEXT ·dwRowK3S1NEON(SB), NOSPLIT, $0-72
	MOVD out_base+0(FP), R0  // R0 = &out[i]
	MOVD out_len+8(FP), R2
	MOVD row_base+24(FP), R1 // R1 = &row[i·1]
	LSR  $2, R2, R2          // R2 = blocks of 4 outputs
	MOVD w_base+48(FP), R3
	FMOVS 0(R3), F20
	VDUP  V20.S[0], V20.S4 // V20 = w[0] in every lane
	FMOVS 4(R3), F21
	VDUP  V21.S[0], V21.S4 // V21 = w[1] in every lane
	FMOVS 8(R3), F22
	VDUP  V22.S[0], V22.S4 // V22 = w[2] in every lane
	CBZ  R2, done

loop:
	VLD1 (R0), [V0.S4]       // V0 = out[i:i+4]
	MOVD R1, R4           // R4 = &row[i·s + c]
	VLD1 (R4), [V1.S4]       // V1 = tap 0 of the 4 windows
	FMUL4S(20, 1, 1)       // V1 *= w[0]
	FADD4S(1, 0, 0)          // V0 += V1
	ADD  $4, R4, R4
	VLD1 (R4), [V1.S4]       // V1 = tap 1 of the 4 windows
	FMUL4S(21, 1, 1)       // V1 *= w[1]
	FADD4S(1, 0, 0)          // V0 += V1
	ADD  $4, R4, R4
	VLD1 (R4), [V1.S4]       // V1 = tap 2 of the 4 windows
	FMUL4S(22, 1, 1)       // V1 *= w[2]
	FADD4S(1, 0, 0)          // V0 += V1
	VST1.P [V0.S4], 16(R0)   // out[i:i+4] = V0
	ADD  $16, R1, R1
	SUBS $1, R2, R2
	BNE  loop

done:
	RET

// func dwRowK3S2NEON(out, row, w []float32)
TEXT ·dwRowK3S2NEON(SB), NOSPLIT, $0-72
	MOVD out_base+0(FP), R0  // R0 = &out[i]
	MOVD out_len+8(FP), R2
	MOVD row_base+24(FP), R1 // R1 = &row[i·2]
	LSR  $2, R2, R2          // R2 = blocks of 4 outputs
	MOVD w_base+48(FP), R3
	FMOVS 0(R3), F20
	VDUP  V20.S[0], V20.S4 // V20 = w[0] in every lane
	FMOVS 4(R3), F21
	VDUP  V21.S[0], V21.S4 // V21 = w[1] in every lane
	FMOVS 8(R3), F22
	VDUP  V22.S[0], V22.S4 // V22 = w[2] in every lane
	CBZ  R2, done

loop:
	VLD1 (R0), [V0.S4]       // V0 = out[i:i+4]
	MOVD R1, R4           // R4 = &row[i·s + c]
	VLD2 (R4), [V1.S4, V2.S4] // V1 = tap 0 of the 4 windows (even elements)
	FMUL4S(20, 1, 1)       // V1 *= w[0]
	FADD4S(1, 0, 0)          // V0 += V1
	ADD  $4, R4, R4
	VLD2 (R4), [V1.S4, V2.S4] // V1 = tap 1 of the 4 windows (even elements)
	FMUL4S(21, 1, 1)       // V1 *= w[1]
	FADD4S(1, 0, 0)          // V0 += V1
	ADD  $4, R4, R4
	VLD2 (R4), [V1.S4, V2.S4] // V1 = tap 2 of the 4 windows (even elements)
	FMUL4S(22, 1, 1)       // V1 *= w[2]
	FADD4S(1, 0, 0)          // V0 += V1
	VST1.P [V0.S4], 16(R0)   // out[i:i+4] = V0
	ADD  $32, R1, R1
	SUBS $1, R2, R2
	BNE  loop

done:
	RET

// func dwRowK5S1NEON(out, row, w []float32)
TEXT ·dwRowK5S1NEON(SB), NOSPLIT, $0-72
	MOVD out_base+0(FP), R0  // R0 = &out[i]
	MOVD out_len+8(FP), R2
	MOVD row_base+24(FP), R1 // R1 = &row[i·1]
	LSR  $2, R2, R2          // R2 = blocks of 4 outputs
	MOVD w_base+48(FP), R3
	FMOVS 0(R3), F20
	VDUP  V20.S[0], V20.S4 // V20 = w[0] in every lane
	FMOVS 4(R3), F21
	VDUP  V21.S[0], V21.S4 // V21 = w[1] in every lane
	FMOVS 8(R3), F22
	VDUP  V22.S[0], V22.S4 // V22 = w[2] in every lane
	FMOVS 12(R3), F23
	VDUP  V23.S[0], V23.S4 // V23 = w[3] in every lane
	FMOVS 16(R3), F24
	VDUP  V24.S[0], V24.S4 // V24 = w[4] in every lane
	CBZ  R2, done

loop:
	VLD1 (R0), [V0.S4]       // V0 = out[i:i+4]
	MOVD R1, R4           // R4 = &row[i·s + c]
	VLD1 (R4), [V1.S4]       // V1 = tap 0 of the 4 windows
	FMUL4S(20, 1, 1)       // V1 *= w[0]
	FADD4S(1, 0, 0)          // V0 += V1
	ADD  $4, R4, R4
	VLD1 (R4), [V1.S4]       // V1 = tap 1 of the 4 windows
	FMUL4S(21, 1, 1)       // V1 *= w[1]
	FADD4S(1, 0, 0)          // V0 += V1
	ADD  $4, R4, R4
	VLD1 (R4), [V1.S4]       // V1 = tap 2 of the 4 windows
	FMUL4S(22, 1, 1)       // V1 *= w[2]
	FADD4S(1, 0, 0)          // V0 += V1
	ADD  $4, R4, R4
	VLD1 (R4), [V1.S4]       // V1 = tap 3 of the 4 windows
	FMUL4S(23, 1, 1)       // V1 *= w[3]
	FADD4S(1, 0, 0)          // V0 += V1
	ADD  $4, R4, R4
	VLD1 (R4), [V1.S4]       // V1 = tap 4 of the 4 windows
	FMUL4S(24, 1, 1)       // V1 *= w[4]
	FADD4S(1, 0, 0)          // V0 += V1
	VST1.P [V0.S4], 16(R0)   // out[i:i+4] = V0
	ADD  $16, R1, R1
	SUBS $1, R2, R2
	BNE  loop

done:
	RET

// func dwRowK5S2NEON(out, row, w []float32)
TEXT ·dwRowK5S2NEON(SB), NOSPLIT, $0-72
	MOVD out_base+0(FP), R0  // R0 = &out[i]
	MOVD out_len+8(FP), R2
	MOVD row_base+24(FP), R1 // R1 = &row[i·2]
	LSR  $2, R2, R2          // R2 = blocks of 4 outputs
	MOVD w_base+48(FP), R3
	FMOVS 0(R3), F20
	VDUP  V20.S[0], V20.S4 // V20 = w[0] in every lane
	FMOVS 4(R3), F21
	VDUP  V21.S[0], V21.S4 // V21 = w[1] in every lane
	FMOVS 8(R3), F22
	VDUP  V22.S[0], V22.S4 // V22 = w[2] in every lane
	FMOVS 12(R3), F23
	VDUP  V23.S[0], V23.S4 // V23 = w[3] in every lane
	FMOVS 16(R3), F24
	VDUP  V24.S[0], V24.S4 // V24 = w[4] in every lane
	CBZ  R2, done

loop:
	VLD1 (R0), [V0.S4]       // V0 = out[i:i+4]
	MOVD R1, R4           // R4 = &row[i·s + c]
	VLD2 (R4), [V1.S4, V2.S4] // V1 = tap 0 of the 4 windows (even elements)
	FMUL4S(20, 1, 1)       // V1 *= w[0]
	FADD4S(1, 0, 0)          // V0 += V1
	ADD  $4, R4, R4
	VLD2 (R4), [V1.S4, V2.S4] // V1 = tap 1 of the 4 windows (even elements)
	FMUL4S(21, 1, 1)       // V1 *= w[1]
	FADD4S(1, 0, 0)          // V0 += V1
	ADD  $4, R4, R4
	VLD2 (R4), [V1.S4, V2.S4] // V1 = tap 2 of the 4 windows (even elements)
	FMUL4S(22, 1, 1)       // V1 *= w[2]
	FADD4S(1, 0, 0)          // V0 += V1
	ADD  $4, R4, R4
	VLD2 (R4), [V1.S4, V2.S4] // V1 = tap 3 of the 4 windows (even elements)
	FMUL4S(23, 1, 1)       // V1 *= w[3]
	FADD4S(1, 0, 0)          // V0 += V1
	ADD  $4, R4, R4
	VLD2 (R4), [V1.S4, V2.S4] // V1 = tap 4 of the 4 windows (even elements)
	FMUL4S(24, 1, 1)       // V1 *= w[4]
	FADD4S(1, 0, 0)          // V0 += V1
	VST1.P [V0.S4], 16(R0)   // out[i:i+4] = V0
	ADD  $32, R1, R1
	SUBS $1, R2, R2
	BNE  loop

done:
	RET

// func maxRowK2S2NEON(out, row []float32)
TEXT ·maxRowK2S2NEON(SB), NOSPLIT, $0-48
	MOVD out_base+0(FP), R0  // R0 = &out[i]
	MOVD out_len+8(FP), R2
	MOVD row_base+24(FP), R1 // R1 = &row[i·2]
	LSR  $2, R2, R2          // R2 = blocks of 4 outputs
	CBZ  R2, done

loop:
	VLD1 (R0), [V0.S4]       // V0 = out[i:i+4]
	MOVD R1, R4           // R4 = &row[i·s + c]
	VLD2 (R4), [V1.S4, V2.S4] // V1 = tap 0 of the 4 windows (even elements)
	FCMGT4S(0, 1, 3)         // V3 = tap > max
	FCMEQ4S(1, 1, 4)         // V4 = tap is not NaN
	ORN16B(4, 3, 3)          // V3 = tap > max or NaN
	BIT16B(3, 1, 0)          // max = V3 ? tap : max
	ADD  $4, R4, R4
	VLD2 (R4), [V1.S4, V2.S4] // V1 = tap 1 of the 4 windows (even elements)
	FCMGT4S(0, 1, 3)         // V3 = tap > max
	FCMEQ4S(1, 1, 4)         // V4 = tap is not NaN
	ORN16B(4, 3, 3)          // V3 = tap > max or NaN
	BIT16B(3, 1, 0)          // max = V3 ? tap : max
	VST1.P [V0.S4], 16(R0)   // out[i:i+4] = V0
	ADD  $32, R1, R1
	SUBS $1, R2, R2
	BNE  loop

done:
	RET

// func maxRowK3S1NEON(out, row []float32)
TEXT ·maxRowK3S1NEON(SB), NOSPLIT, $0-48
	MOVD out_base+0(FP), R0  // R0 = &out[i]
	MOVD out_len+8(FP), R2
	MOVD row_base+24(FP), R1 // R1 = &row[i·1]
	LSR  $2, R2, R2          // R2 = blocks of 4 outputs
	CBZ  R2, done

loop:
	VLD1 (R0), [V0.S4]       // V0 = out[i:i+4]
	MOVD R1, R4           // R4 = &row[i·s + c]
	VLD1 (R4), [V1.S4]       // V1 = tap 0 of the 4 windows
	FCMGT4S(0, 1, 3)         // V3 = tap > max
	FCMEQ4S(1, 1, 4)         // V4 = tap is not NaN
	ORN16B(4, 3, 3)          // V3 = tap > max or NaN
	BIT16B(3, 1, 0)          // max = V3 ? tap : max
	ADD  $4, R4, R4
	VLD1 (R4), [V1.S4]       // V1 = tap 1 of the 4 windows
	FCMGT4S(0, 1, 3)         // V3 = tap > max
	FCMEQ4S(1, 1, 4)         // V4 = tap is not NaN
	ORN16B(4, 3, 3)          // V3 = tap > max or NaN
	BIT16B(3, 1, 0)          // max = V3 ? tap : max
	ADD  $4, R4, R4
	VLD1 (R4), [V1.S4]       // V1 = tap 2 of the 4 windows
	FCMGT4S(0, 1, 3)         // V3 = tap > max
	FCMEQ4S(1, 1, 4)         // V4 = tap is not NaN
	ORN16B(4, 3, 3)          // V3 = tap > max or NaN
	BIT16B(3, 1, 0)          // max = V3 ? tap : max
	VST1.P [V0.S4], 16(R0)   // out[i:i+4] = V0
	ADD  $16, R1, R1
	SUBS $1, R2, R2
	BNE  loop

done:
	RET

// func maxRowK3S2NEON(out, row []float32)
TEXT ·maxRowK3S2NEON(SB), NOSPLIT, $0-48
	MOVD out_base+0(FP), R0  // R0 = &out[i]
	MOVD out_len+8(FP), R2
	MOVD row_base+24(FP), R1 // R1 = &row[i·2]
	LSR  $2, R2, R2          // R2 = blocks of 4 outputs
	CBZ  R2, done

loop:
	VLD1 (R0), [V0.S4]       // V0 = out[i:i+4]
	MOVD R1, R4           // R4 = &row[i·s + c]
	VLD2 (R4), [V1.S4, V2.S4] // V1 = tap 0 of the 4 windows (even elements)
	FCMGT4S(0, 1, 3)         // V3 = tap > max
	FCMEQ4S(1, 1, 4)         // V4 = tap is not NaN
	ORN16B(4, 3, 3)          // V3 = tap > max or NaN
	BIT16B(3, 1, 0)          // max = V3 ? tap : max
	ADD  $4, R4, R4
	VLD2 (R4), [V1.S4, V2.S4] // V1 = tap 1 of the 4 windows (even elements)
	FCMGT4S(0, 1, 3)         // V3 = tap > max
	FCMEQ4S(1, 1, 4)         // V4 = tap is not NaN
	ORN16B(4, 3, 3)          // V3 = tap > max or NaN
	BIT16B(3, 1, 0)          // max = V3 ? tap : max
	ADD  $4, R4, R4
	VLD2 (R4), [V1.S4, V2.S4] // V1 = tap 2 of the 4 windows (even elements)
	FCMGT4S(0, 1, 3)         // V3 = tap > max
	FCMEQ4S(1, 1, 4)         // V4 = tap is not NaN
	ORN16B(4, 3, 3)          // V3 = tap > max or NaN
	BIT16B(3, 1, 0)          // max = V3 ? tap : max
	VST1.P [V0.S4], 16(R0)   // out[i:i+4] = V0
	ADD  $32, R1, R1
	SUBS $1, R2, R2
	BNE  loop

done:
	RET

// func gatherRowsNEON(dst, src []float32, offs []int, j int)
// dst[p·8 : (p+1)·8] = src[offs[p]+j : offs[p]+j+8] for p < len(offs)
// (gatherRowsGeneric with the NEON panel width, 8).
TEXT ·gatherRowsNEON(SB), NOSPLIT, $0-80
	MOVD dst_base+0(FP), R0   // R0 = &dst[p·8]
	MOVD src_base+24(FP), R1
	MOVD offs_base+48(FP), R2 // R2 = &offs[p]
	MOVD offs_len+56(FP), R3
	MOVD j+72(FP), R4
	ADD  R4<<2, R1, R1        // R1 = &src[j]
	CBZ  R3, gdone

gloop:
	MOVD.P 8(R2), R5          // R5 = offs[p]
	ADD  R5<<2, R1, R6        // R6 = &src[offs[p]+j]
	VLD1 (R6), [V0.S4, V1.S4]
	VST1.P [V0.S4, V1.S4], 32(R0)
	SUBS $1, R3, R3
	BNE  gloop

gdone:
	RET

// func evensNEON(dst, src []float32)
// dst[i] = src[2i] for i < len(dst), a multiple of 4 (evensGeneric): LD2
// splits 8 elements into the even and the odd ones.
TEXT ·evensNEON(SB), NOSPLIT, $0-48
	MOVD dst_base+0(FP), R0
	MOVD dst_len+8(FP), R2
	MOVD src_base+24(FP), R1
	CBZ  R2, edone

eloop:
	VLD2.P 32(R1), [V0.S4, V1.S4]
	VST1.P [V0.S4], 16(R0)
	SUBS   $4, R2, R2
	BNE    eloop

edone:
	RET

// func zipNEON(dst, a, b []float32)
// dst[2i] = a[i], dst[2i+1] = b[i] for i < len(a), a multiple of 4
// (zipGeneric): ST2 interleaves two vectors.
TEXT ·zipNEON(SB), NOSPLIT, $0-72
	MOVD dst_base+0(FP), R0
	MOVD a_base+24(FP), R1
	MOVD a_len+32(FP), R3
	MOVD b_base+48(FP), R2
	CBZ  R3, zdone

zloop:
	VLD1.P 16(R1), [V0.S4]
	VLD1.P 16(R2), [V1.S4]
	VST2.P [V0.S4, V1.S4], 32(R0)
	SUBS   $4, R3, R3
	BNE    zloop

zdone:
	RET
