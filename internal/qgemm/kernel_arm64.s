//go:build gc && !purego

#include "textflag.h"

// The NEON kernels of kernel_arm64.go: the micro-kernels (dotGeneric for
// the geometries of famNEONDot and famNEON), the epilogues and the
// depthwise kernel, bit for bit. The activation bytes they read are
// already int8 (kernel_arm64.go's geometries say so, and the sources
// flip uint8 activations when they copy them).
//
// The Go assembler has no mnemonics for these vector instructions; the
// encodings were checked with llvm-mc and decode back in go tool objdump.
// Three-register macros take (m, n, d) and compute d = n OP m.
#define SDOT(i, m, n, d)  WORD $(0x4f80e000 | (((i)&1)<<21) | (((i)>>1)<<11) | ((m)<<16) | ((n)<<5) | (d)) // sdot vd.4s, vn.16b, vm.4b[i]
#define SMULL8H(m, n, d)  WORD $(0x0e20c000 | ((m)<<16) | ((n)<<5) | (d)) // smull  vd.8h, vn.8b, vm.8b
#define SMULL2_8H(m, n, d) WORD $(0x4e20c000 | ((m)<<16) | ((n)<<5) | (d)) // smull2 vd.8h, vn.16b, vm.16b
#define SADALP4S(n, d)    WORD $(0x4e606800 | ((n)<<5) | (d))             // sadalp vd.4s, vn.8h
#define ADDP4S(m, n, d)   WORD $(0x4ea0bc00 | ((m)<<16) | ((n)<<5) | (d)) // addp   vd.4s, vn.4s, vm.4s
#define MLS4S(m, n, d)    WORD $(0x6ea09400 | ((m)<<16) | ((n)<<5) | (d)) // mls    vd.4s, vn.4s, vm.4s
#define SCVTF4S(n, d)     WORD $(0x4e21d800 | ((n)<<5) | (d))             // scvtf  vd.4s, vn.4s
#define FCVTNS4S(n, d)    WORD $(0x4e21a800 | ((n)<<5) | (d))             // fcvtns vd.4s, vn.4s
#define FMUL4S(m, n, d)   WORD $(0x6e20dc00 | ((m)<<16) | ((n)<<5) | (d)) // fmul   vd.4s, vn.4s, vm.4s
#define FADD4S(m, n, d)   WORD $(0x4e20d400 | ((m)<<16) | ((n)<<5) | (d)) // fadd   vd.4s, vn.4s, vm.4s
#define FMAX4S(m, n, d)   WORD $(0x4e20f400 | ((m)<<16) | ((n)<<5) | (d)) // fmax   vd.4s, vn.4s, vm.4s
#define FMIN4S(m, n, d)   WORD $(0x4ea0f400 | ((m)<<16) | ((n)<<5) | (d)) // fmin   vd.4s, vn.4s, vm.4s
#define XTN4H(n, d)       WORD $(0x0e612800 | ((n)<<5) | (d))             // xtn    vd.4h, vn.4s
#define XTN8B(n, d)       WORD $(0x0e212800 | ((n)<<5) | (d))             // xtn    vd.8b, vn.8h
#define SXTL8H(n, d)      WORD $(0x0f08a400 | ((n)<<5) | (d))             // sxtl   vd.8h, vn.8b (sshll #0)
#define SMLAL4S(m, n, d)  WORD $(0x0e608000 | ((m)<<16) | ((n)<<5) | (d)) // smlal  vd.4s, vn.4h, vm.4h
#define SMLAL2_4S(m, n, d) WORD $(0x4e608000 | ((m)<<16) | ((n)<<5) | (d)) // smlal2 vd.4s, vn.8h, vm.8h

// ZERO16 clears the accumulators V0-V15.
#define ZERO16 \
	VEOR V0.B16, V0.B16, V0.B16; \
	VEOR V1.B16, V1.B16, V1.B16; \
	VEOR V2.B16, V2.B16, V2.B16; \
	VEOR V3.B16, V3.B16, V3.B16; \
	VEOR V4.B16, V4.B16, V4.B16; \
	VEOR V5.B16, V5.B16, V5.B16; \
	VEOR V6.B16, V6.B16, V6.B16; \
	VEOR V7.B16, V7.B16, V7.B16; \
	VEOR V8.B16, V8.B16, V8.B16; \
	VEOR V9.B16, V9.B16, V9.B16; \
	VEOR V10.B16, V10.B16, V10.B16; \
	VEOR V11.B16, V11.B16, V11.B16; \
	VEOR V12.B16, V12.B16, V12.B16; \
	VEOR V13.B16, V13.B16, V13.B16; \
	VEOR V14.B16, V14.B16, V14.B16; \
	VEOR V15.B16, V15.B16, V15.B16

// Micro-kernel arguments: taps+0(FP), c4+8(FP); the slices ind, w, c at
// +16, +40, +64. ind holds taps groups of mr row pointers; each row reads
// 4·c4 bytes per tap, and w holds taps·c4 quads of 8 columns × 4 bytes.

// SDOTROW(i, r) adds lane i of the quads of row r (in V(16+r)) times the
// columns in V24 (0-3) and V25 (4-7) to the accumulators V(2r), V(2r+1).
#define SDOTROW(i, r) \
	SDOT(i, 16+(r), 24, 2*(r)); \
	SDOT(i, 16+(r), 25, 2*(r)+1)

// SDOTSTEP(i) runs one quad: the next 8 columns' bytes, then lane i of
// every row.
#define SDOTSTEP(i) \
	VLD1.P 32(R3), [V24.B16, V25.B16]; \
	SDOTROW(i, 0); \
	SDOTROW(i, 1); \
	SDOTROW(i, 2); \
	SDOTROW(i, 3); \
	SDOTROW(i, 4); \
	SDOTROW(i, 5); \
	SDOTROW(i, 6); \
	SDOTROW(i, 7)

// func dotNEONDot(taps, c4 int, ind []unsafe.Pointer, w []int8, c []int32)
// 8×8 tile: row r in V(2r) (columns 0-3) and V(2r+1) (4-7); the rows' next
// 16 bytes (4 quads) in V16-V23, a quad of the 8 columns in V24-V25.
TEXT ·dotNEONDot(SB), NOSPLIT, $0-88
	MOVD taps+0(FP), R0
	MOVD c4+8(FP), R1
	MOVD ind_base+16(FP), R2
	MOVD w_base+40(FP), R3
	MOVD c_base+64(FP), R4
	ZERO16
	CBZ  R0, dotstore

dottap:
	LDP.P 16(R2), (R5, R6)  // the tap's row pointers
	LDP.P 16(R2), (R7, R8)
	LDP.P 16(R2), (R9, R10)
	LDP.P 16(R2), (R11, R12)
	LSR   $2, R1, R13       // R13 = blocks of 4 quads
	AND   $3, R1, R14       // R14 = quads after them
	CBZ   R13, dotquad

dotblock:
	VLD1.P 16(R5), [V16.B16]
	VLD1.P 16(R6), [V17.B16]
	VLD1.P 16(R7), [V18.B16]
	VLD1.P 16(R8), [V19.B16]
	VLD1.P 16(R9), [V20.B16]
	VLD1.P 16(R10), [V21.B16]
	VLD1.P 16(R11), [V22.B16]
	VLD1.P 16(R12), [V23.B16]
	SDOTSTEP(0)
	SDOTSTEP(1)
	SDOTSTEP(2)
	SDOTSTEP(3)
	SUBS $1, R13, R13
	BNE  dotblock

dotquad:
	CBZ R14, dotnext

dotquadloop:
	FMOVS.P 4(R5), F16 // one quad of each row, in lane 0
	FMOVS.P 4(R6), F17
	FMOVS.P 4(R7), F18
	FMOVS.P 4(R8), F19
	FMOVS.P 4(R9), F20
	FMOVS.P 4(R10), F21
	FMOVS.P 4(R11), F22
	FMOVS.P 4(R12), F23
	SDOTSTEP(0)
	SUBS $1, R14, R14
	BNE  dotquadloop

dotnext:
	SUBS $1, R0, R0
	BNE  dottap

dotstore:
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R4)
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R4)
	VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(R4)
	VST1.P [V12.S4, V13.S4, V14.S4, V15.S4], 64(R4)
	RET

// SMULLROW(r) multiplies the quad of row r (in every lane of V(16+r)) by
// the 8 columns' bytes (V24: columns 0-3, V25: 4-7) into 16-bit products,
// and adds their pairs to V(4r)..V(4r+3): the two half sums of columns
// 0-1, 2-3, 4-5 and 6-7.
#define SMULLROW(r) \
	SMULL8H(16+(r), 24, 26); \
	SMULL2_8H(16+(r), 24, 27); \
	SMULL8H(16+(r), 25, 28); \
	SMULL2_8H(16+(r), 25, 29); \
	SADALP4S(26, 4*(r)); \
	SADALP4S(27, 4*(r)+1); \
	SADALP4S(28, 4*(r)+2); \
	SADALP4S(29, 4*(r)+3)

// SMULLSTORE(r, a, b) adds the half sums of row r into a = V(4r)
// (columns 0-3) and b = V(4r+2) (4-7) and stores its 8 columns.
#define SMULLSTORE(r, a, b) \
	ADDP4S(4*(r)+1, 4*(r), 4*(r)); \
	ADDP4S(4*(r)+3, 4*(r)+2, 4*(r)+2); \
	VST1.P [a.S4], 16(R4); \
	VST1.P [b.S4], 16(R4)

// func dotNEON(taps, c4 int, ind []unsafe.Pointer, w []int8, c []int32)
// 4×8 tile for ARMv8.0, without SDOT: SMULL products and SADALP pair sums,
// the half sums of row r in V(4r)..V(4r+3).
TEXT ·dotNEON(SB), NOSPLIT, $0-88
	MOVD taps+0(FP), R0
	MOVD c4+8(FP), R1
	MOVD ind_base+16(FP), R2
	MOVD w_base+40(FP), R3
	MOVD c_base+64(FP), R4
	ZERO16
	CBZ  R0, smullstore

smulltap:
	LDP.P 16(R2), (R5, R6)
	LDP.P 16(R2), (R7, R8)
	MOVD  R1, R13
	CBZ   R13, smullnext

smullquad:
	VLD1R.P 4(R5), [V16.S4] // the quad of row 0 in every lane
	VLD1R.P 4(R6), [V17.S4]
	VLD1R.P 4(R7), [V18.S4]
	VLD1R.P 4(R8), [V19.S4]
	VLD1.P  32(R3), [V24.B16, V25.B16]
	SMULLROW(0)
	SMULLROW(1)
	SMULLROW(2)
	SMULLROW(3)
	SUBS    $1, R13, R13
	BNE     smullquad

smullnext:
	SUBS $1, R0, R0
	BNE  smulltap

smullstore:
	SMULLSTORE(0, V0, V2)
	SMULLSTORE(1, V4, V6)
	SMULLSTORE(2, V8, V10)
	SMULLSTORE(3, V12, V14)
	RET

// The epilogues take n = len(out) >= 4 outputs: blocks of 4, then the
// last 4 again, computed first and stored last (out never aliases their
// inputs, so the overlap is written twice with the same values). zp is
// never empty: without zero points the caller passes colTerm and rho 0.
#define PP  R0 // next element of p
#define CT  R1 // of colTerm
#define ZP  R2 // of zp
#define SC  R3 // of scale
#define OUT R4 // of out
#define N   R5 // blocks of 4 left
#define EP  R6 // the last 4 elements of p
#define ECT R7
#define EZP R8
#define ESC R9
#define EOUT R10
#define ARG R11
#define BI  R12 // next element of bias (epiFloatNEON)
#define EBI R13

// LAST4(p, shift, e) sets e to the address of the last 4 elements, of
// 1<<shift bytes, of the slice at p with N elements.
#define LAST4(p, shift, e) \
	ADD N<<shift, p, e; \
	SUB $(4<<shift), e, e

// CORRECT(p, ct, zp) loads 4 values of P, colTerm and zp from the given
// pointers and sets V0 = P + colTerm − zp·ρ (ρ in every lane of V20),
// with V1 and V2 as scratch.
#define CORRECT(p, ct, zp) \
	VLD1 (p), [V0.S4]; \
	VLD1 (ct), [V1.S4]; \
	VLD1 (zp), [V2.S4]; \
	VADD V1.S4, V0.S4, V0.S4; \
	MLS4S(20, 2, 0)

// ADVANCE advances PP, CT and ZP by 4 elements.
#define ADVANCE \
	ADD $16, PP; \
	ADD $16, CT; \
	ADD $16, ZP

// QUANT(sc) requantizes V0 with the scales at sc: float, scale, clamp
// to [V21, V22], round to nearest even, add the zero point (V23), and
// narrow to bytes in the low 4 bytes of V0. V3 is scratch.
#define QUANT(sc) \
	VLD1 (sc), [V3.S4]; \
	SCVTF4S(0, 0); \
	FMUL4S(3, 0, 0); \
	FMAX4S(21, 0, 0); \
	FMIN4S(22, 0, 0); \
	FCVTNS4S(0, 0); \
	VADD V23.S4, V0.S4, V0.S4; \
	XTN4H(0, 0); \
	XTN8B(0, 0)

// EPIARGS sets V20 = ρ (from ARG) in every lane, N = len(out) (from N
// itself) and the last-4 pointers of p, colTerm and zp.
#define EPIARGS \
	VDUP  ARG, V20.S4; \
	LAST4(PP, 2, EP); \
	LAST4(CT, 2, ECT); \
	LAST4(ZP, 2, EZP)

// func epiInt32NEON(p, colTerm, zp []int32, rho int32, out []int32)
TEXT ·epiInt32NEON(SB), NOSPLIT, $0-104
	MOVD  p_base+0(FP), PP
	MOVD  colTerm_base+24(FP), CT
	MOVD  zp_base+48(FP), ZP
	MOVWU rho+72(FP), ARG
	MOVD  out_len+88(FP), N
	EPIARGS
	MOVD out_base+80(FP), OUT
	LAST4(OUT, 2, EOUT)
	CORRECT(EP, ECT, EZP)
	VMOV V0.B16, V26.B16
	LSR  $2, N

i32loop:
	CORRECT(PP, CT, ZP)
	ADVANCE
	VST1.P [V0.S4], 16(OUT)
	SUBS $1, N, N
	BNE  i32loop
	VST1 [V26.S4], (EOUT)
	RET

// func epiQuantNEON(p, colTerm, zp []int32, rho int32, scale []float32, q *quantParams, out []byte)
TEXT ·epiQuantNEON(SB), NOSPLIT, $0-136
	MOVD  p_base+0(FP), PP
	MOVD  colTerm_base+24(FP), CT
	MOVD  zp_base+48(FP), ZP
	MOVWU rho+72(FP), ARG
	MOVD  out_len+120(FP), N
	EPIARGS
	MOVD  scale_base+80(FP), SC
	MOVD  q+104(FP), ARG
	VLD1R (ARG), [V21.S4]  // lo
	ADD   $4, ARG
	VLD1R (ARG), [V22.S4]  // hi
	ADD   $4, ARG
	VLD1R (ARG), [V23.S4]  // zp
	MOVD  out_base+112(FP), OUT
	LAST4(SC, 2, ESC)
	LAST4(OUT, 0, EOUT)
	CORRECT(EP, ECT, EZP)
	QUANT(ESC)
	VMOV  V0.B16, V26.B16
	LSR   $2, N

qloop:
	CORRECT(PP, CT, ZP)
	ADVANCE
	QUANT(SC)
	ADD     $16, SC
	FMOVS.P F0, 4(OUT)
	SUBS    $1, N, N
	BNE     qloop
	FMOVS   F26, (EOUT)
	RET

// func epiFloatNEON(p, colTerm, zp []int32, rho int32, scale, bias []float32, out []float32)
TEXT ·epiFloatNEON(SB), NOSPLIT, $0-152
	MOVD  p_base+0(FP), PP
	MOVD  colTerm_base+24(FP), CT
	MOVD  zp_base+48(FP), ZP
	MOVWU rho+72(FP), ARG
	MOVD  out_len+136(FP), N
	EPIARGS
	MOVD scale_base+80(FP), SC
	MOVD bias_base+104(FP), BI
	MOVD out_base+128(FP), OUT
	LAST4(SC, 2, ESC)
	LAST4(BI, 2, EBI)
	LAST4(OUT, 2, EOUT)
	CORRECT(EP, ECT, EZP)
	VLD1 (ESC), [V3.S4]
	VLD1 (EBI), [V4.S4]
	SCVTF4S(0, 0)
	FMUL4S(3, 0, 0)
	FADD4S(4, 0, 0)
	VMOV V0.B16, V26.B16
	LSR  $2, N

floop:
	CORRECT(PP, CT, ZP)
	ADVANCE
	VLD1.P 16(SC), [V3.S4]
	VLD1.P 16(BI), [V4.S4]
	SCVTF4S(0, 0)
	FMUL4S(3, 0, 0)
	FADD4S(4, 0, 0)
	VST1.P [V0.S4], 16(OUT)
	SUBS $1, N, N
	BNE  floop
	VST1 [V26.S4], (EOUT)
	RET

// func dwNEON(taps, c, npix, step int, ind []unsafe.Pointer, w []int16, p []int32)
// c >= 8: blocks of 8 channels, then the last 8 again; for each block and
// output pixel i, for each tap, the 8 bytes at the tap's pointer plus
// i·step plus the block's offset, sign-extended, times the tap's 8
// weights, added to V0 (channels 0-3) and V1 (4-7) with SMLAL.
TEXT ·dwNEON(SB), NOSPLIT, $0-104
	MOVD taps+0(FP), R0
	MOVD c+8(FP), R1
	MOVD npix+16(FP), R2
	MOVD step+24(FP), R3
	MOVD ind_base+32(FP), R4
	MOVD w_base+56(FP), R5
	MOVD p_base+80(FP), R6
	LSL  $1, R1, R15       // R15 = a tap's weights in bytes
	LSL  $2, R1, R16       // R16 = a pixel's outputs in bytes
	MOVD $0, R7            // R7 = the block's first channel
	SUB  $8, R1, R8        // R8 = the last block's first channel

dwblock:
	MOVD $0, R10           // R10 = i·step
	ADD  R7<<2, R6, R17    // R17 = the block's outputs of pixel i
	MOVD R2, R9            // R9 = pixels left

dwpixel:
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	MOVD R4, R11           // R11 = next tap pointer
	ADD  R7<<1, R5, R12    // R12 = the block's weights of the tap
	MOVD R0, R13           // R13 = taps left
	CBZ  R13, dwstore

dwtap:
	MOVD.P 8(R11), R14
	ADD    R10, R14, R14
	ADD    R7, R14, R14
	VLD1   (R14), [V2.B8]
	SXTL8H(2, 2)
	VLD1   (R12), [V3.H8]
	ADD    R15, R12, R12
	SMLAL4S(3, 2, 0)
	SMLAL2_4S(3, 2, 1)
	SUBS   $1, R13, R13
	BNE    dwtap

dwstore:
	VST1 [V0.S4, V1.S4], (R17)
	ADD  R16, R17, R17
	ADD  R3, R10, R10
	SUBS $1, R9, R9
	BNE  dwpixel
	CMP  R8, R7
	BEQ  dwdone
	ADD  $8, R7
	CMP  R8, R7
	BLE  dwblock
	MOVD R8, R7            // the last 8 channels again
	B    dwblock

dwdone:
	RET
