//go:build gc && !purego

#include "textflag.h"

// Micro-kernels of Sgemm (see kernelGeneric in kernel_generic.go, the
// specification). Each keeps its whole C tile in registers for the k loop:
// per step it loads one packed row of B (nr floats), broadcasts the mr
// packed values of A one at a time and issues mr·nr/width fused
// multiply-adds. Then it adds the tile to C (when acc) and stores it.
//
// Arguments: k+0(FP); a, b, c slices at +8, +32, +56; ldc+80(FP) in
// elements; acc+88(FP).

// func sgemmAVX2(k int, a, b, c []float32, ldc int, acc bool)
// 6×16 tile: row i in Y(2i) (columns 0-7) and Y(2i+1) (columns 8-15).
TEXT ·sgemmAVX2(SB), NOSPLIT, $0-89
	MOVQ k+0(FP), CX        // CX = k
	MOVQ a_base+8(FP), SI   // SI = &a[0]
	MOVQ b_base+32(FP), DI  // DI = &b[0]
	MOVQ c_base+56(FP), DX  // DX = &c[0]
	MOVQ ldc+80(FP), R8
	SHLQ $2, R8             // R8 = ldc in bytes
	MOVQ DX, R9             // prefetch the C tile while the k loop runs
	PREFETCHT0 (R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	TESTQ CX, CX
	JEQ avx2_store

avx2_loop:
	VMOVUPS (DI), Y12       // b[p][0:8]
	VMOVUPS 32(DI), Y13     // b[p][8:16]
	VBROADCASTSS 0(SI), Y14  // a[p][0]
	VFMADD231PS Y12, Y14, Y0
	VFMADD231PS Y13, Y14, Y1
	VBROADCASTSS 4(SI), Y15  // a[p][1]
	VFMADD231PS Y12, Y15, Y2
	VFMADD231PS Y13, Y15, Y3
	VBROADCASTSS 8(SI), Y14  // a[p][2]
	VFMADD231PS Y12, Y14, Y4
	VFMADD231PS Y13, Y14, Y5
	VBROADCASTSS 12(SI), Y15  // a[p][3]
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VBROADCASTSS 16(SI), Y14  // a[p][4]
	VFMADD231PS Y12, Y14, Y8
	VFMADD231PS Y13, Y14, Y9
	VBROADCASTSS 20(SI), Y15  // a[p][5]
	VFMADD231PS Y12, Y15, Y10
	VFMADD231PS Y13, Y15, Y11
	ADDQ $24, SI            // next column of A
	ADDQ $64, DI            // next row of B
	DECQ CX
	JNZ avx2_loop

avx2_store:
	MOVBLZX acc+88(FP), AX
	TESTL AX, AX
	JEQ avx2_write
	VADDPS (DX), Y0, Y0      // += c[0][0:8]
	VADDPS 32(DX), Y1, Y1  // += c[0][8:16]
	ADDQ R8, DX
	VADDPS (DX), Y2, Y2      // += c[1][0:8]
	VADDPS 32(DX), Y3, Y3  // += c[1][8:16]
	ADDQ R8, DX
	VADDPS (DX), Y4, Y4      // += c[2][0:8]
	VADDPS 32(DX), Y5, Y5  // += c[2][8:16]
	ADDQ R8, DX
	VADDPS (DX), Y6, Y6      // += c[3][0:8]
	VADDPS 32(DX), Y7, Y7  // += c[3][8:16]
	ADDQ R8, DX
	VADDPS (DX), Y8, Y8      // += c[4][0:8]
	VADDPS 32(DX), Y9, Y9  // += c[4][8:16]
	ADDQ R8, DX
	VADDPS (DX), Y10, Y10      // += c[5][0:8]
	VADDPS 32(DX), Y11, Y11  // += c[5][8:16]
	MOVQ c_base+56(FP), DX

avx2_write:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ R8, DX
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, 32(DX)
	ADDQ R8, DX
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	ADDQ R8, DX
	VMOVUPS Y6, (DX)
	VMOVUPS Y7, 32(DX)
	ADDQ R8, DX
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, 32(DX)
	ADDQ R8, DX
	VMOVUPS Y10, (DX)
	VMOVUPS Y11, 32(DX)
	VZEROUPPER
	RET

// func sgemmAVX512(k int, a, b, c []float32, ldc int, acc bool)
// 8×32 tile: row i in Z(2i) (columns 0-15) and Z(2i+1) (columns 16-31).
TEXT ·sgemmAVX512(SB), NOSPLIT, $0-89
	MOVQ k+0(FP), CX        // CX = k
	MOVQ a_base+8(FP), SI   // SI = &a[0]
	MOVQ b_base+32(FP), DI  // DI = &b[0]
	MOVQ c_base+56(FP), DX  // DX = &c[0]
	MOVQ ldc+80(FP), R8
	SHLQ $2, R8             // R8 = ldc in bytes
	MOVQ DX, R9             // prefetch the C tile while the k loop runs
	PREFETCHT0 (R9)
	PREFETCHT0 64(R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 64(R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 64(R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 64(R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 64(R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 64(R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 64(R9)
	ADDQ R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 64(R9)
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	TESTQ CX, CX
	JEQ avx512_store

avx512_loop:
	VMOVUPS (DI), Z16       // b[p][0:16]
	VMOVUPS 64(DI), Z17     // b[p][16:32]
	VBROADCASTSS 0(SI), Z18  // a[p][0]
	VFMADD231PS Z16, Z18, Z0
	VFMADD231PS Z17, Z18, Z1
	VBROADCASTSS 4(SI), Z19  // a[p][1]
	VFMADD231PS Z16, Z19, Z2
	VFMADD231PS Z17, Z19, Z3
	VBROADCASTSS 8(SI), Z20  // a[p][2]
	VFMADD231PS Z16, Z20, Z4
	VFMADD231PS Z17, Z20, Z5
	VBROADCASTSS 12(SI), Z21  // a[p][3]
	VFMADD231PS Z16, Z21, Z6
	VFMADD231PS Z17, Z21, Z7
	VBROADCASTSS 16(SI), Z22  // a[p][4]
	VFMADD231PS Z16, Z22, Z8
	VFMADD231PS Z17, Z22, Z9
	VBROADCASTSS 20(SI), Z23  // a[p][5]
	VFMADD231PS Z16, Z23, Z10
	VFMADD231PS Z17, Z23, Z11
	VBROADCASTSS 24(SI), Z24  // a[p][6]
	VFMADD231PS Z16, Z24, Z12
	VFMADD231PS Z17, Z24, Z13
	VBROADCASTSS 28(SI), Z25  // a[p][7]
	VFMADD231PS Z16, Z25, Z14
	VFMADD231PS Z17, Z25, Z15
	ADDQ $32, SI            // next column of A
	ADDQ $128, DI           // next row of B
	DECQ CX
	JNZ avx512_loop

avx512_store:
	MOVBLZX acc+88(FP), AX
	TESTL AX, AX
	JEQ avx512_write
	VADDPS (DX), Z0, Z0      // += c[0][0:16]
	VADDPS 64(DX), Z1, Z1  // += c[0][16:32]
	ADDQ R8, DX
	VADDPS (DX), Z2, Z2      // += c[1][0:16]
	VADDPS 64(DX), Z3, Z3  // += c[1][16:32]
	ADDQ R8, DX
	VADDPS (DX), Z4, Z4      // += c[2][0:16]
	VADDPS 64(DX), Z5, Z5  // += c[2][16:32]
	ADDQ R8, DX
	VADDPS (DX), Z6, Z6      // += c[3][0:16]
	VADDPS 64(DX), Z7, Z7  // += c[3][16:32]
	ADDQ R8, DX
	VADDPS (DX), Z8, Z8      // += c[4][0:16]
	VADDPS 64(DX), Z9, Z9  // += c[4][16:32]
	ADDQ R8, DX
	VADDPS (DX), Z10, Z10      // += c[5][0:16]
	VADDPS 64(DX), Z11, Z11  // += c[5][16:32]
	ADDQ R8, DX
	VADDPS (DX), Z12, Z12      // += c[6][0:16]
	VADDPS 64(DX), Z13, Z13  // += c[6][16:32]
	ADDQ R8, DX
	VADDPS (DX), Z14, Z14      // += c[7][0:16]
	VADDPS 64(DX), Z15, Z15  // += c[7][16:32]
	MOVQ c_base+56(FP), DX

avx512_write:
	VMOVUPS Z0, (DX)
	VMOVUPS Z1, 64(DX)
	ADDQ R8, DX
	VMOVUPS Z2, (DX)
	VMOVUPS Z3, 64(DX)
	ADDQ R8, DX
	VMOVUPS Z4, (DX)
	VMOVUPS Z5, 64(DX)
	ADDQ R8, DX
	VMOVUPS Z6, (DX)
	VMOVUPS Z7, 64(DX)
	ADDQ R8, DX
	VMOVUPS Z8, (DX)
	VMOVUPS Z9, 64(DX)
	ADDQ R8, DX
	VMOVUPS Z10, (DX)
	VMOVUPS Z11, 64(DX)
	ADDQ R8, DX
	VMOVUPS Z12, (DX)
	VMOVUPS Z13, 64(DX)
	ADDQ R8, DX
	VMOVUPS Z14, (DX)
	VMOVUPS Z15, 64(DX)
	VZEROUPPER
	RET
