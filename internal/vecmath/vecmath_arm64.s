//go:build gc && !purego

#include "textflag.h"

// The Go assembler has no mnemonics for these vector instructions; the
// encodings decode back in go tool objdump. Three-register macros take
// (m, n, d) and compute d = n OP m; two-register ones (n, d).
#define FADD4S(m, n, d)  WORD $(0x4e20d400 | ((m)<<16) | ((n)<<5) | (d)) // fadd   vd.4s, vn.4s, vm.4s
#define FSUB4S(m, n, d)  WORD $(0x4ea0d400 | ((m)<<16) | ((n)<<5) | (d)) // fsub   vd.4s, vn.4s, vm.4s
#define FMUL4S(m, n, d)  WORD $(0x6e20dc00 | ((m)<<16) | ((n)<<5) | (d)) // fmul   vd.4s, vn.4s, vm.4s
#define FDIV4S(m, n, d)  WORD $(0x6e20fc00 | ((m)<<16) | ((n)<<5) | (d)) // fdiv   vd.4s, vn.4s, vm.4s
#define FMAX4S(m, n, d)  WORD $(0x4e20f400 | ((m)<<16) | ((n)<<5) | (d)) // fmax   vd.4s, vn.4s, vm.4s (NaN if either is)
#define FMIN4S(m, n, d)  WORD $(0x4ea0f400 | ((m)<<16) | ((n)<<5) | (d)) // fmin   vd.4s, vn.4s, vm.4s (NaN if either is)
#define FCMGT4S(m, n, d) WORD $(0x6ea0e400 | ((m)<<16) | ((n)<<5) | (d)) // fcmgt  vd.4s, vn.4s, vm.4s (n > m; false for NaN)
#define FCMGE4S(m, n, d) WORD $(0x6e20e400 | ((m)<<16) | ((n)<<5) | (d)) // fcmge  vd.4s, vn.4s, vm.4s (n >= m; false for NaN)
#define FABS4S(n, d)     WORD $(0x4ea0f800 | ((n)<<5) | (d))             // fabs   vd.4s, vn.4s
#define FNEG4S(n, d)     WORD $(0x6ea0f800 | ((n)<<5) | (d))             // fneg   vd.4s, vn.4s
#define FRINTN4S(n, d)   WORD $(0x4e218800 | ((n)<<5) | (d))             // frintn vd.4s, vn.4s (to nearest, ties to even)
#define FCVTZS4S(n, d)   WORD $(0x4ea1b800 | ((n)<<5) | (d))             // fcvtzs vd.4s, vn.4s
#define SSHR4S1(n, d)    WORD $(0x4f3f0400 | ((n)<<5) | (d))             // sshr   vd.4s, vn.4s, #1
#define SCVTF4S(n, d)    WORD $(0x4e21d800 | ((n)<<5) | (d))             // scvtf  vd.4s, vn.4s
#define MUL4S(m, n, d)   WORD $(0x4ea09c00 | ((m)<<16) | ((n)<<5) | (d)) // mul    vd.4s, vn.4s, vm.4s (integer, low 32 bits)
// FMLA, FMLS and MOV have Go mnemonics (VFMLA, VFMLS, VMOV), which take
// register names; the macros take numbers like the ones above.
#define FMLA4S(m, n, d)  WORD $(0x4e20cc00 | ((m)<<16) | ((n)<<5) | (d)) // fmla   vd.4s, vn.4s, vm.4s (d += n·m, fused)
#define FMLS4S(m, n, d)  WORD $(0x4ea0cc00 | ((m)<<16) | ((n)<<5) | (d)) // fmls   vd.4s, vn.4s, vm.4s (d -= n·m, fused)
#define MOV16B(n, d)     WORD $(0x4ea01c00 | ((n)<<16) | ((n)<<5) | (d)) // mov    vd.16b, vn.16b (orr)

// The constants of neonTable (vecmath_arm64.go), 16 bytes each, from R3.
#define C_EXPLO     (16*0)
#define C_EXPHI     (16*1)
#define C_LOG2E     (16*2)
#define C_LN2HI     (16*3)
#define C_LN2LO     (16*4)
#define C_P0        (16*5)
#define C_P1        (16*6)
#define C_P2        (16*7)
#define C_P3        (16*8)
#define C_P4        (16*9)
#define C_P5        (16*10)
#define C_ONE       (16*11)
#define C_I127      (16*12)
#define C_TWO       (16*13)
#define C_HALF      (16*14)
#define C_SIGN      (16*15)
#define C_ERFSPLIT  (16*16)
#define C_ERFMAX    (16*17)
#define C_S0        (16*18)
#define C_S1        (16*19)
#define C_S2        (16*20)
#define C_S3        (16*21)
#define C_S4        (16*22)
#define C_S5        (16*23)
#define C_R0        (16*24)
#define C_R1        (16*25)
#define C_R2        (16*26)
#define C_R3        (16*27)
#define C_R4        (16*28)
#define C_R5        (16*29)
#define C_R6        (16*30)
#define C_R7        (16*31)
#define C_R8        (16*32)
#define C_TANHSPLIT (16*33)
#define C_Q0        (16*34)
#define C_Q1        (16*35)
#define C_Q2        (16*36)
#define C_Q3        (16*37)
#define C_Q4        (16*38)
#define C_INVSQRT2  (16*39)
#define C_C1        (16*40)
#define C_C2        (16*41)
#define C_GFMAX     (16*42)
#define C_GFTAB     (16*43)

// HORNER(c, x, p) sets Vp = Vp·Vx + constant c, one fused multiply-add
// (fma32 in the Go code), V8 scratch: one step of the polynomials.
#define HORNER(c, x, p) \
	FMOVQ c(R3), F8;  /* V8 = c */ \
	FMLA4S(x, p, 8);  /* V8 = c + Vp·Vx */ \
	MOV16B(8, p)      /* Vp = V8 */

// EXP sets V4 = expf(V4) (generic.go), V5..V8 scratch.
#define EXP \
	FMOVQ C_EXPLO(R3), F8;  /* V8 = expLo */ \
	FMAX4S(8, 4, 4);        /* V4 = max(x, expLo) (NaN stays NaN) */ \
	FMOVQ C_EXPHI(R3), F8;  /* V8 = expHi */ \
	FMIN4S(8, 4, 4);        /* V4 = min(x, expHi) */ \
	FMOVQ C_LOG2E(R3), F8;  /* V8 = log2e */ \
	FMUL4S(8, 4, 5);        /* V5 = x·log2e */ \
	FRINTN4S(5, 5);         /* V5 = n = round(x·log2e) */ \
	FMOVQ C_LN2HI(R3), F8;  /* V8 = ln2Hi */ \
	FMUL4S(8, 5, 6);        /* V6 = n·ln2Hi */ \
	FSUB4S(6, 4, 4);        /* V4 = r = x - n·ln2Hi */ \
	FMOVQ C_LN2LO(R3), F8;  /* V8 = ln2Lo */ \
	FMLS4S(8, 5, 4);        /* V4 = r = r - n·ln2Lo, fused */ \
	FMOVQ C_P0(R3), F6;     /* V6 = p = P0 */ \
	HORNER(C_P1, 4, 6);     /* p = p·r + P1 */ \
	HORNER(C_P2, 4, 6);     /* p = p·r + P2 */ \
	HORNER(C_P3, 4, 6);     /* p = p·r + P3 */ \
	HORNER(C_P4, 4, 6);     /* p = p·r + P4 */ \
	HORNER(C_P5, 4, 6);     /* p = p·r + P5 */ \
	FMUL4S(4, 4, 7);        /* V7 = r·r */ \
	FMLA4S(7, 6, 4);        /* V4 = r + p·r², fused */ \
	FMOVQ C_ONE(R3), F8;    /* V8 = 1 */ \
	FADD4S(8, 4, 4);        /* V4 = y = p·r² + r + 1 */ \
	FCVTZS4S(5, 5);         /* V5 = k = int32(n) */ \
	SSHR4S1(5, 7);          /* V7 = k1 = k >> 1 */ \
	VSUB V7.S4, V5.S4, V5.S4; /* V5 = k2 = k - k1 */ \
	FMOVQ C_I127(R3), F8;   /* V8 = 127 (integer lanes) */ \
	VADD V8.S4, V7.S4, V7.S4; /* V7 = k1 + 127 */ \
	VADD V8.S4, V5.S4, V5.S4; /* V5 = k2 + 127 */ \
	VSHL $23, V7.S4, V7.S4; /* V7 = 2^k1 */ \
	VSHL $23, V5.S4, V5.S4; /* V5 = 2^k2 */ \
	FMUL4S(7, 4, 4);        /* V4 = y·2^k1 */ \
	FMUL4S(5, 4, 4)         /* V4 = y·2^k1·2^k2 */

// ERFCBIG sets V4 = erfcBig(V2) = e^-R(min(a, erfMax)), V5..V8 scratch.
#define ERFCBIG \
	FMOVQ C_ERFMAX(R3), F8; /* V8 = erfMax */ \
	FMIN4S(8, 2, 4);        /* V4 = min(a, erfMax) */ \
	FMOVQ C_R8(R3), F5;     /* V5 = p = R8 */ \
	HORNER(C_R7, 4, 5);     /* p = p·a + R7 */ \
	HORNER(C_R6, 4, 5);     /* p = p·a + R6 */ \
	HORNER(C_R5, 4, 5);     /* p = p·a + R5 */ \
	HORNER(C_R4, 4, 5);     /* p = p·a + R4 */ \
	HORNER(C_R3, 4, 5);     /* p = p·a + R3 */ \
	HORNER(C_R2, 4, 5);     /* p = p·a + R2 */ \
	HORNER(C_R1, 4, 5);     /* p = p·a + R1 */ \
	HORNER(C_R0, 4, 5);     /* p = p·a + R0 */ \
	FNEG4S(5, 4);           /* V4 = -R */ \
	EXP                     /* V4 = e^-R */

// ERFSMALL sets V9 = S(V3) (the polynomial of erf below erfSplit).
#define ERFSMALL \
	FMOVQ C_S5(R3), F9;     /* V9 = p = S5 */ \
	HORNER(C_S4, 3, 9);     /* p = p·u + S4 */ \
	HORNER(C_S3, 3, 9);     /* p = p·u + S3 */ \
	HORNER(C_S2, 3, 9);     /* p = p·u + S2 */ \
	HORNER(C_S1, 3, 9);     /* p = p·u + S1 */ \
	HORNER(C_S0, 3, 9)      /* p = p·u + S0 */

// SIGMOID sets V4 = sigmoidf(V0), V1, V2, V5..V8 scratch.
#define SIGMOID \
	FABS4S(0, 4);           /* V4 = |x| */ \
	FNEG4S(4, 4);           /* V4 = -|x| */ \
	EXP;                    /* V4 = e = e^-|x| */ \
	FMOVQ C_ONE(R3), F1;    /* V1 = 1 */ \
	VEOR V2.B16, V2.B16, V2.B16; /* V2 = 0 */ \
	FCMGE4S(2, 0, 2);       /* V2 = x >= 0 */ \
	VBSL V4.B16, V1.B16, V2.B16; /* V2 = num = x >= 0 ? 1 : e */ \
	FADD4S(1, 4, 4);        /* V4 = e + 1 */ \
	FDIV4S(4, 2, 4)         /* V4 = num / (1 + e) */

// Every element-wise kernel runs one 4-lane vector per iteration over a
// multiple of 4 elements (the dispatcher gives the rest to Go).
#define DST R0 // next element of dst
#define SRC R1 // next element of x (or a)
#define CNT R2 // vectors left
#define TAB R3 // the constants (neonTable)
#define SRC2 R4 // next element of b (or w, or the second input)
#define SRC3 R5 // next element of b (norm)
#define ARG R6 // a float32 argument on its way into a vector

// func expNEON(dst, x []float32, c *neonTable)
TEXT ·expNEON(SB), NOSPLIT, $0-56
	MOVD dst_base+0(FP), DST      // DST = &dst[0]
	MOVD x_base+24(FP), SRC       // SRC = &x[0]
	MOVD x_len+32(FP), CNT        // CNT = len(x)
	MOVD c+48(FP), TAB            // TAB = the constants
	LSR  $2, CNT, CNT             // CNT = len(x) / 4
	CBZ  CNT, expdone             // nothing to do

exploop:
	VLD1.P 16(SRC), [V4.S4]       // V4 = x[i..i+3]
	EXP                           // V4 = expf(V4)
	VST1.P [V4.S4], 16(DST)       // dst[i..i+3] = V4
	SUBS   $1, CNT, CNT           // CNT--
	BNE    exploop                // more vectors

expdone:
	RET

// func erfNEON(dst, x []float32, c *neonTable)
TEXT ·erfNEON(SB), NOSPLIT, $0-56
	MOVD dst_base+0(FP), DST      // DST = &dst[0]
	MOVD x_base+24(FP), SRC       // SRC = &x[0]
	MOVD x_len+32(FP), CNT        // CNT = len(x)
	MOVD c+48(FP), TAB            // TAB = the constants
	LSR  $2, CNT, CNT             // CNT = len(x) / 4
	CBZ  CNT, erfdone             // nothing to do

erfloop:
	VLD1.P 16(SRC), [V0.S4]       // V0 = x
	FABS4S(0, 2)                  // V2 = a = |x|
	FMUL4S(0, 0, 3)               // V3 = u = x·x
	ERFSMALL                      // V9 = S(u)
	MOV16B(0, 10)                 // V10 = x
	FMLA4S(9, 0, 10)              // V10 = small = x + x·S(u), fused
	ERFCBIG                       // V4 = erfc(a)
	FMOVQ C_ONE(R3), F5           // V5 = 1
	FSUB4S(4, 5, 5)               // V5 = 1 - erfc(a)
	FMOVQ C_SIGN(R3), F6          // V6 = sign bit
	VAND V6.B16, V0.B16, V6.B16   // V6 = sign of x
	VORR V6.B16, V5.B16, V5.B16   // V5 = big = (1 - erfc(a)) with the sign of x
	FMOVQ C_ERFSPLIT(R3), F6      // V6 = erfSplit
	FCMGT4S(2, 6, 6)              // V6 = a < erfSplit
	VBSL V5.B16, V10.B16, V6.B16  // V6 = a < erfSplit ? small : big
	VST1.P [V6.S4], 16(DST)       // dst[i..i+3] = V6
	SUBS   $1, CNT, CNT           // CNT--
	BNE    erfloop                // more vectors

erfdone:
	RET

// func tanhNEON(dst, x []float32, c *neonTable)
TEXT ·tanhNEON(SB), NOSPLIT, $0-56
	MOVD dst_base+0(FP), DST      // DST = &dst[0]
	MOVD x_base+24(FP), SRC       // SRC = &x[0]
	MOVD x_len+32(FP), CNT        // CNT = len(x)
	MOVD c+48(FP), TAB            // TAB = the constants
	LSR  $2, CNT, CNT             // CNT = len(x) / 4
	CBZ  CNT, tanhdone            // nothing to do

tanhloop:
	VLD1.P 16(SRC), [V0.S4]       // V0 = x
	FABS4S(0, 1)                  // V1 = a = |x|
	FMUL4S(1, 1, 2)               // V2 = u = a·a
	FMOVQ C_Q4(R3), F3            // V3 = p = Q4
	HORNER(C_Q3, 2, 3)            // p = p·u + Q3
	HORNER(C_Q2, 2, 3)            // p = p·u + Q2
	HORNER(C_Q1, 2, 3)            // p = p·u + Q1
	HORNER(C_Q0, 2, 3)            // p = p·u + Q0
	FMUL4S(2, 3, 3)               // V3 = u·p
	MOV16B(1, 9)                  // V9 = a
	FMLA4S(3, 1, 9)               // V9 = small = a + a·(u·p), fused
	FADD4S(1, 1, 4)               // V4 = a + a
	EXP                           // V4 = e^2a
	FMOVQ C_ONE(R3), F5           // V5 = 1
	FADD4S(5, 4, 4)               // V4 = e^2a + 1
	FMOVQ C_TWO(R3), F6           // V6 = 2
	FDIV4S(4, 6, 6)               // V6 = 2 / (e^2a + 1)
	FSUB4S(6, 5, 5)               // V5 = big = 1 - 2/(e^2a + 1)
	FMOVQ C_TANHSPLIT(R3), F7     // V7 = tanhSplit
	FCMGT4S(1, 7, 7)              // V7 = a < tanhSplit
	VBSL V5.B16, V9.B16, V7.B16   // V7 = a < tanhSplit ? small : big
	FMOVQ C_SIGN(R3), F8          // V8 = sign bit
	VAND V8.B16, V0.B16, V8.B16   // V8 = sign of x
	VORR V8.B16, V7.B16, V7.B16   // V7 = tanh with the sign of x
	VST1.P [V7.S4], 16(DST)       // dst[i..i+3] = V7
	SUBS   $1, CNT, CNT           // CNT--
	BNE    tanhloop               // more vectors

tanhdone:
	RET

// func sigmoidNEON(dst, x []float32, c *neonTable)
TEXT ·sigmoidNEON(SB), NOSPLIT, $0-56
	MOVD dst_base+0(FP), DST      // DST = &dst[0]
	MOVD x_base+24(FP), SRC       // SRC = &x[0]
	MOVD x_len+32(FP), CNT        // CNT = len(x)
	MOVD c+48(FP), TAB            // TAB = the constants
	LSR  $2, CNT, CNT             // CNT = len(x) / 4
	CBZ  CNT, sigdone             // nothing to do

sigloop:
	VLD1.P 16(SRC), [V0.S4]       // V0 = x
	SIGMOID                       // V4 = sigmoid(x)
	VST1.P [V4.S4], 16(DST)       // dst[i..i+3] = V4
	SUBS   $1, CNT, CNT           // CNT--
	BNE    sigloop                // more vectors

sigdone:
	RET

// func siluNEON(dst, x []float32, c *neonTable)
TEXT ·siluNEON(SB), NOSPLIT, $0-56
	MOVD dst_base+0(FP), DST      // DST = &dst[0]
	MOVD x_base+24(FP), SRC       // SRC = &x[0]
	MOVD x_len+32(FP), CNT        // CNT = len(x)
	MOVD c+48(FP), TAB            // TAB = the constants
	LSR  $2, CNT, CNT             // CNT = len(x) / 4
	CBZ  CNT, siludone            // nothing to do

siluloop:
	VLD1.P 16(SRC), [V0.S4]       // V0 = x
	SIGMOID                       // V4 = sigmoid(x)
	FMUL4S(4, 0, 4)               // V4 = x·sigmoid(x)
	VST1.P [V4.S4], 16(DST)       // dst[i..i+3] = V4
	SUBS   $1, CNT, CNT           // CNT--
	BNE    siluloop               // more vectors

siludone:
	RET

// func geluNEON(dst, x []float32, c *neonTable)
TEXT ·geluNEON(SB), NOSPLIT, $0-56
	MOVD dst_base+0(FP), DST      // DST = &dst[0]
	MOVD x_base+24(FP), SRC       // SRC = &x[0]
	MOVD x_len+32(FP), CNT        // CNT = len(x)
	MOVD c+48(FP), TAB            // TAB = the constants
	LSR  $2, CNT, CNT             // CNT = len(x) / 4
	CBZ  CNT, geludone            // nothing to do

geluloop:
	VLD1.P 16(SRC), [V0.S4]       // V0 = x
	FMOVQ C_INVSQRT2(R3), F1      // V1 = 1/√2
	FMUL4S(1, 0, 1)               // V1 = t = x/√2
	FABS4S(1, 2)                  // V2 = a = |t|
	FMUL4S(1, 1, 3)               // V3 = u = t·t
	ERFSMALL                      // V9 = S(u)
	FMOVQ C_ONE(R3), F10          // V10 = 1
	FADD4S(10, 1, 10)             // V10 = 1 + t
	FMLA4S(9, 1, 10)              // V10 = small = (1 + t) + t·S(u), fused
	ERFCBIG                       // V4 = e = erfc(a)
	FMOVQ C_TWO(R3), F11          // V11 = 2
	FSUB4S(4, 11, 11)             // V11 = 2 - e
	FMOVQ C_ERFMAX(R3), F12       // V12 = erfMax
	FCMGE4S(2, 12, 12)            // V12 = a <= erfMax
	VAND V12.B16, V4.B16, V4.B16  // V4 = a <= erfMax ? e : 0
	VEOR V13.B16, V13.B16, V13.B16 // V13 = 0
	FCMGE4S(13, 1, 13)            // V13 = t >= 0
	VBSL V4.B16, V11.B16, V13.B16 // V13 = big = t >= 0 ? 2 - e : V4
	FMOVQ C_ERFSPLIT(R3), F12     // V12 = erfSplit
	FCMGT4S(2, 12, 12)            // V12 = a < erfSplit
	VBSL V13.B16, V10.B16, V12.B16 // V12 = q = a < erfSplit ? small : big
	FMOVQ C_HALF(R3), F13         // V13 = 0.5
	FMUL4S(13, 0, 13)             // V13 = x·0.5
	FMUL4S(12, 13, 13)            // V13 = (x·0.5)·q
	VST1.P [V13.S4], 16(DST)      // dst[i..i+3] = V13
	SUBS   $1, CNT, CNT           // CNT--
	BNE    geluloop               // more vectors

geludone:
	RET

// func geluTanhNEON(dst, x []float32, c *neonTable)
TEXT ·geluTanhNEON(SB), NOSPLIT, $0-56
	MOVD dst_base+0(FP), DST      // DST = &dst[0]
	MOVD x_base+24(FP), SRC       // SRC = &x[0]
	MOVD x_len+32(FP), CNT        // CNT = len(x)
	MOVD c+48(FP), TAB            // TAB = the constants
	LSR  $2, CNT, CNT             // CNT = len(x) / 4
	CBZ  CNT, gtdone              // nothing to do

gtloop:
	VLD1.P 16(SRC), [V9.S4]       // V9 = x
	FMUL4S(9, 9, 0)               // V0 = x·x
	FMOVQ C_C1(R3), F1            // V1 = geluTanhC1
	FMOVQ C_C2(R3), F2            // V2 = geluTanhC2
	FMLA4S(2, 0, 1)               // V1 = C1 + x²·C2, fused
	FMUL4S(1, 9, 0)               // V0 = z = x·(C1 + C2·x²)
	SIGMOID                       // V4 = sigmoid(z)
	FMUL4S(4, 9, 4)               // V4 = x·sigmoid(z)
	VST1.P [V4.S4], 16(DST)       // dst[i..i+3] = V4
	SUBS   $1, CNT, CNT           // CNT--
	BNE    gtloop                 // more vectors

gtdone:
	RET

// func geluFastNEON(dst, x []float32, c *neonTable)
// dst[i] = geluFastf(x[i]): the coefficients of r^j for the 8 intervals,
// at C_GFTAB + 32·j, are kept in V(16+2j), V(17+2j) for the whole loop;
// TBL picks each lane's interval k. A NaN travels through a = min(|x|,
// max) (FMIN propagates it, FCVTZS makes k = 0) and r: the result is NaN,
// like Go's.
TEXT ·geluFastNEON(SB), NOSPLIT, $0-56
	MOVD dst_base+0(FP), DST      // DST = &dst[0]
	MOVD x_base+24(FP), SRC       // SRC = &x[0]
	MOVD x_len+32(FP), CNT        // CNT = len(x)
	MOVD c+48(FP), TAB            // TAB = the constants
	FMOVQ C_GFMAX(TAB), F5        // V5 = geluFastMax
	ADD  $C_GFTAB, TAB, TAB       // TAB = the coefficients
	VLD1.P 64(TAB), [V16.S4, V17.S4, V18.S4, V19.S4] // V16, V17 = r⁰ coefficients; V18, V19 = r¹
	VLD1.P 64(TAB), [V20.S4, V21.S4, V22.S4, V23.S4] // V20, V21 = r²; V22, V23 = r³
	VLD1.P 64(TAB), [V24.S4, V25.S4, V26.S4, V27.S4] // V24, V25 = r⁴; V26, V27 = r⁵
	VLD1   (TAB), [V28.S4, V29.S4, V30.S4, V31.S4]   // V28, V29 = r⁶; V30, V31 = r⁷
	VEOR V6.B16, V6.B16, V6.B16   // V6 = 0
	MOVW $0x04040404, ARG         // ARG = 4 in every byte
	VDUP ARG, V7.S4               // V7 = 0x04040404 (integer lanes)
	MOVW $0x03020100, ARG         // ARG = bytes 0, 1, 2, 3
	VDUP ARG, V8.S4               // V8 = 0x03020100 (integer lanes)
	LSR  $2, CNT, CNT             // CNT = len(x) / 4
	CBZ  CNT, gfdone              // nothing to do

gfloop:
	VLD1.P 16(SRC), [V0.S4]       // V0 = x
	FABS4S(0, 1)                  // V1 = |x|
	FMIN4S(5, 1, 1)               // V1 = a = min(|x|, geluFastMax) (NaN stays NaN)
	FCVTZS4S(1, 2)                // V2 = k = int32(a), 0..7
	SCVTF4S(2, 3)                 // V3 = float32(k)
	FSUB4S(3, 1, 1)               // V1 = r = a - k (exact)
	MUL4S(7, 2, 2)                // V2 = 4k in every byte of the lane
	VADD V8.S4, V2.S4, V2.S4      // V2 = bytes 4k..4k+3: float k of a 32-byte table
	VTBL V2.B16, [V30.B16, V31.B16], V9.B16  // V9 = p = coefficient of r⁷
	VTBL V2.B16, [V28.B16, V29.B16], V10.B16 // V10 = coefficient of r⁶
	FMLA4S(9, 1, 10)              // V10 = p = p·r + c6, fused
	VTBL V2.B16, [V26.B16, V27.B16], V9.B16  // V9 = coefficient of r⁵
	FMLA4S(10, 1, 9)              // V9 = p = p·r + c5, fused
	VTBL V2.B16, [V24.B16, V25.B16], V10.B16 // V10 = coefficient of r⁴
	FMLA4S(9, 1, 10)              // V10 = p = p·r + c4, fused
	VTBL V2.B16, [V22.B16, V23.B16], V9.B16  // V9 = coefficient of r³
	FMLA4S(10, 1, 9)              // V9 = p = p·r + c3, fused
	VTBL V2.B16, [V20.B16, V21.B16], V10.B16 // V10 = coefficient of r²
	FMLA4S(9, 1, 10)              // V10 = p = p·r + c2, fused
	VTBL V2.B16, [V18.B16, V19.B16], V9.B16  // V9 = coefficient of r¹
	FMLA4S(10, 1, 9)              // V9 = p = p·r + c1, fused
	VTBL V2.B16, [V16.B16, V17.B16], V10.B16 // V10 = coefficient of r⁰
	FMLA4S(9, 1, 10)              // V10 = p = p·r + c0, fused
	FMAX4S(6, 0, 11)              // V11 = max(x, 0) (max(-0, 0) = +0)
	FSUB4S(10, 11, 11)            // V11 = max(x, 0) - p
	VST1.P [V11.S4], 16(DST)      // dst[i..i+3] = V11
	SUBS   $1, CNT, CNT           // CNT--
	BNE    gfloop                 // more vectors

gfdone:
	RET

// BINARY(name, op, loop, done) defines name(dst, a, b []float32): dst[i] =
// a[i] op b[i], op one of the macros above (V1 = b as m, V0 = a as n).
#define BINARY(name, op, loop, done) \
TEXT name(SB), NOSPLIT, $0-72; \
	MOVD dst_base+0(FP), DST;  /* DST = &dst[0] */ \
	MOVD a_base+24(FP), SRC;   /* SRC = &a[0] */ \
	MOVD a_len+32(FP), CNT;    /* CNT = len(a) */ \
	MOVD b_base+48(FP), SRC2;  /* SRC2 = &b[0] */ \
	LSR $2, CNT, CNT;          /* CNT = len(a) / 4 */ \
	CBZ CNT, done;             /* nothing to do */ \
loop: \
	VLD1.P 16(SRC), [V0.S4];   /* V0 = a[i..i+3] */ \
	VLD1.P 16(SRC2), [V1.S4];  /* V1 = b[i..i+3] */ \
	op(1, 0, 0);               /* V0 = a op b */ \
	VST1.P [V0.S4], 16(DST);   /* dst[i..i+3] = V0 */ \
	SUBS $1, CNT, CNT;         /* CNT-- */ \
	BNE loop;                  /* more vectors */ \
done: \
	RET

// func addNEON(dst, a, b []float32)
BINARY(·addNEON, FADD4S, addloop, adddone)

// func subNEON(dst, a, b []float32)
BINARY(·subNEON, FSUB4S, subloop, subdone)

// func mulNEON(dst, a, b []float32)
BINARY(·mulNEON, FMUL4S, mulloop, muldone)

// func divNEON(dst, a, b []float32)
BINARY(·divNEON, FDIV4S, divloop, divdone)

// SCALAR(name, op, m, n, loop, done) defines name(dst, a []float32, s
// float32): V0 = op(Vm, Vn) with V0 = a[i..i+3] and V16 = s: (16, 0) for
// a op s, (0, 16) for s op a.
#define SCALAR(name, op, m, n, loop, done) \
TEXT name(SB), NOSPLIT, $0-52; \
	MOVD dst_base+0(FP), DST;  /* DST = &dst[0] */ \
	MOVD a_base+24(FP), SRC;   /* SRC = &a[0] */ \
	MOVD a_len+32(FP), CNT;    /* CNT = len(a) */ \
	MOVWU s+48(FP), ARG;       /* ARG = bits of s */ \
	VDUP ARG, V16.S4;          /* V16 = s in every lane */ \
	LSR $2, CNT, CNT;          /* CNT = len(a) / 4 */ \
	CBZ CNT, done;             /* nothing to do */ \
loop: \
	VLD1.P 16(SRC), [V0.S4];   /* V0 = a[i..i+3] */ \
	op(m, n, 0);               /* V0 = a op s, or s op a */ \
	VST1.P [V0.S4], 16(DST);   /* dst[i..i+3] = V0 */ \
	SUBS $1, CNT, CNT;         /* CNT-- */ \
	BNE loop;                  /* more vectors */ \
done: \
	RET

// func addScalarNEON(dst, a []float32, s float32)
SCALAR(·addScalarNEON, FADD4S, 16, 0, addsloop, addsdone)

// func subScalarNEON(dst, a []float32, s float32)
SCALAR(·subScalarNEON, FSUB4S, 16, 0, subsloop, subsdone)

// func scalarSubNEON(dst, a []float32, s float32)
SCALAR(·scalarSubNEON, FSUB4S, 0, 16, ssubloop, ssubdone)

// func mulScalarNEON(dst, a []float32, s float32)
SCALAR(·mulScalarNEON, FMUL4S, 16, 0, mulsloop, mulsdone)

// func divScalarNEON(dst, a []float32, s float32)
SCALAR(·divScalarNEON, FDIV4S, 16, 0, divsloop, divsdone)

// func scalarDivNEON(dst, a []float32, s float32)
SCALAR(·scalarDivNEON, FDIV4S, 0, 16, sdivloop, sdivdone)

// The reductions keep lane i%16 of their accumulator in V20..V23, 16
// elements (V0..V3) per iteration.
#define ACC R0 // &acc[0]

// func maxNEON(acc *[16]float32, x []float32)
// acc[i%16] = x[i] where x[i] > acc[i%16] (maxGeneric): FCMGT and BIT, so
// that a NaN element (false) is skipped and ties keep the lane's value.
TEXT ·maxNEON(SB), NOSPLIT, $0-32
	MOVD acc+0(FP), ACC                                 // ACC = &acc[0]
	MOVD x_base+8(FP), SRC                              // SRC = &x[0]
	MOVD x_len+16(FP), CNT                              // CNT = len(x)
	VLD1 (ACC), [V20.S4, V21.S4, V22.S4, V23.S4]        // V20..V23 = acc
	LSR  $4, CNT, CNT                                   // CNT = len(x) / 16
	CBZ  CNT, maxdone                                   // nothing to do

maxloop:
	VLD1.P 64(SRC), [V0.S4, V1.S4, V2.S4, V3.S4]        // V0..V3 = next 16 elements
	FCMGT4S(20, 0, 4)                                   // V4 = x > acc (lanes 0-3)
	FCMGT4S(21, 1, 5)                                   // V5 = x > acc (lanes 4-7)
	FCMGT4S(22, 2, 6)                                   // V6 = x > acc (lanes 8-11)
	FCMGT4S(23, 3, 7)                                   // V7 = x > acc (lanes 12-15)
	VBIT V4.B16, V0.B16, V20.B16                        // acc = x where larger
	VBIT V5.B16, V1.B16, V21.B16                        // acc = x where larger
	VBIT V6.B16, V2.B16, V22.B16                        // acc = x where larger
	VBIT V7.B16, V3.B16, V23.B16                        // acc = x where larger
	SUBS $1, CNT, CNT                                   // CNT--
	BNE  maxloop                                        // more blocks

maxdone:
	VST1 [V20.S4, V21.S4, V22.S4, V23.S4], (ACC)        // acc = V20..V23
	RET

// func sumNEON(acc *[16]float32, x []float32)
// acc[i%16] += x[i] (sumGeneric).
TEXT ·sumNEON(SB), NOSPLIT, $0-32
	MOVD acc+0(FP), ACC                                 // ACC = &acc[0]
	MOVD x_base+8(FP), SRC                              // SRC = &x[0]
	MOVD x_len+16(FP), CNT                              // CNT = len(x)
	VLD1 (ACC), [V20.S4, V21.S4, V22.S4, V23.S4]        // V20..V23 = acc
	LSR  $4, CNT, CNT                                   // CNT = len(x) / 16
	CBZ  CNT, sumdone                                   // nothing to do

sumloop:
	VLD1.P 64(SRC), [V0.S4, V1.S4, V2.S4, V3.S4]        // V0..V3 = next 16 elements
	FADD4S(0, 20, 20)                                   // acc += x (lanes 0-3)
	FADD4S(1, 21, 21)                                   // acc += x (lanes 4-7)
	FADD4S(2, 22, 22)                                   // acc += x (lanes 8-11)
	FADD4S(3, 23, 23)                                   // acc += x (lanes 12-15)
	SUBS $1, CNT, CNT                                   // CNT--
	BNE  sumloop                                        // more blocks

sumdone:
	VST1 [V20.S4, V21.S4, V22.S4, V23.S4], (ACC)        // acc = V20..V23
	RET

// func sqDevNEON(acc *[16]float32, x []float32, m float32)
// acc[i%16] += (x[i] - m)² (sqDevGeneric).
TEXT ·sqDevNEON(SB), NOSPLIT, $0-36
	MOVD  acc+0(FP), ACC                                // ACC = &acc[0]
	MOVD  x_base+8(FP), SRC                             // SRC = &x[0]
	MOVD  x_len+16(FP), CNT                             // CNT = len(x)
	MOVWU m+32(FP), ARG                                 // ARG = bits of m
	VDUP  ARG, V16.S4                                   // V16 = m in every lane
	VLD1  (ACC), [V20.S4, V21.S4, V22.S4, V23.S4]       // V20..V23 = acc
	LSR   $4, CNT, CNT                                  // CNT = len(x) / 16
	CBZ   CNT, sqdone                                   // nothing to do

sqloop:
	VLD1.P 64(SRC), [V0.S4, V1.S4, V2.S4, V3.S4]        // V0..V3 = next 16 elements
	FSUB4S(16, 0, 0)                                    // V0 = x - m
	FSUB4S(16, 1, 1)                                    // V1 = x - m
	FSUB4S(16, 2, 2)                                    // V2 = x - m
	FSUB4S(16, 3, 3)                                    // V3 = x - m
	FMUL4S(0, 0, 0)                                     // V0 = (x - m)²
	FMUL4S(1, 1, 1)                                     // V1 = (x - m)²
	FMUL4S(2, 2, 2)                                     // V2 = (x - m)²
	FMUL4S(3, 3, 3)                                     // V3 = (x - m)²
	FADD4S(0, 20, 20)                                   // acc += (x - m)²
	FADD4S(1, 21, 21)                                   // acc += (x - m)²
	FADD4S(2, 22, 22)                                   // acc += (x - m)²
	FADD4S(3, 23, 23)                                   // acc += (x - m)²
	SUBS $1, CNT, CNT                                   // CNT--
	BNE  sqloop                                         // more blocks

sqdone:
	VST1 [V20.S4, V21.S4, V22.S4, V23.S4], (ACC)        // acc = V20..V23
	RET

// EXPSUM1(j, acc) runs one vector of expSumNEON: V4 = expf(Vj·scale -
// shift), stored to dst and added to Vacc.
#define EXPSUM1(j, acc) \
	FMUL4S(16, j, 4);        /* V4 = x·scale */ \
	FSUB4S(17, 4, 4);        /* V4 = x·scale - shift */ \
	EXP;                     /* V4 = e */ \
	VST1.P [V4.S4], 16(R2);  /* dst[i..i+3] = e */ \
	FADD4S(4, acc, acc)      /* acc += e */

// func expSumNEON(acc *[16]float32, dst, x []float32, scale, shift float32, c *neonTable)
// dst[i] = expf(scale·x[i] - shift); acc[i%16] += dst[i] (expSumGeneric).
TEXT ·expSumNEON(SB), NOSPLIT, $0-72
	MOVD  acc+0(FP), ACC                                // ACC = &acc[0]
	MOVD  dst_base+8(FP), R2                            // R2 = &dst[0]
	MOVD  x_base+32(FP), SRC                            // SRC = &x[0]
	MOVD  x_len+40(FP), R4                              // R4 = len(x)
	MOVWU scale+56(FP), ARG                             // ARG = bits of scale
	VDUP  ARG, V16.S4                                   // V16 = scale in every lane
	MOVWU shift+60(FP), ARG                             // ARG = bits of shift
	VDUP  ARG, V17.S4                                   // V17 = shift in every lane
	MOVD  c+64(FP), TAB                                 // TAB = the constants
	VLD1  (ACC), [V20.S4, V21.S4, V22.S4, V23.S4]       // V20..V23 = acc
	LSR   $4, R4, R4                                    // R4 = len(x) / 16
	CBZ   R4, esdone                                    // nothing to do

esloop:
	VLD1.P 64(SRC), [V0.S4, V1.S4, V2.S4, V3.S4]        // V0..V3 = next 16 elements
	EXPSUM1(0, 20)                                      // lanes 0-3
	EXPSUM1(1, 21)                                      // lanes 4-7
	EXPSUM1(2, 22)                                      // lanes 8-11
	EXPSUM1(3, 23)                                      // lanes 12-15
	SUBS $1, R4, R4                                     // R4--
	BNE  esloop                                         // more blocks

esdone:
	VST1 [V20.S4, V21.S4, V22.S4, V23.S4], (ACC)        // acc = V20..V23
	RET

// func normNEON(dst, x, w, b []float32, m, s float32)
// dst[i] = ((x[i] - m)·s)·w[i] + b[i] (normGeneric).
TEXT ·normNEON(SB), NOSPLIT, $0-104
	MOVD  dst_base+0(FP), DST                           // DST = &dst[0]
	MOVD  x_base+24(FP), SRC                            // SRC = &x[0]
	MOVD  x_len+32(FP), CNT                             // CNT = len(x)
	MOVD  w_base+48(FP), SRC2                           // SRC2 = &w[0]
	MOVD  b_base+72(FP), SRC3                           // SRC3 = &b[0]
	MOVWU m+96(FP), ARG                                 // ARG = bits of m
	VDUP  ARG, V16.S4                                   // V16 = m in every lane
	MOVWU s+100(FP), ARG                                // ARG = bits of s
	VDUP  ARG, V17.S4                                   // V17 = s in every lane
	LSR   $2, CNT, CNT                                  // CNT = len(x) / 4
	CBZ   CNT, normdone                                 // nothing to do

normloop:
	VLD1.P 16(SRC), [V0.S4]                             // V0 = x
	VLD1.P 16(SRC2), [V1.S4]                            // V1 = w
	VLD1.P 16(SRC3), [V2.S4]                            // V2 = b
	FSUB4S(16, 0, 0)                                    // V0 = x - m
	FMUL4S(17, 0, 0)                                    // V0 = (x - m)·s
	FMUL4S(1, 0, 0)                                     // V0 = ((x - m)·s)·w
	FADD4S(2, 0, 0)                                     // V0 = ((x - m)·s)·w + b
	VST1.P [V0.S4], 16(DST)                             // dst[i..i+3] = V0
	SUBS   $1, CNT, CNT                                 // CNT--
	BNE    normloop                                     // more vectors

normdone:
	RET
