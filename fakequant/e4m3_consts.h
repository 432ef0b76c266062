// e4m3c<>: the constants of the scaled E4M3 kernels (e4m3_amd64.s,
// e4m3_arm64.s), one 32-bit word each, broadcast into vectors.
DATA e4m3c<>+0(SB)/4, $0x7FFFFFFF  // clears the sign bit
DATA e4m3c<>+4(SB)/4, $1           // the lowest kept bit, once shifted down
DATA e4m3c<>+8(SB)/4, $0x0007FFFF  // round bias: 1<<19 - 1
DATA e4m3c<>+12(SB)/4, $0xFFF00000 // the bits E4M3 keeps
DATA e4m3c<>+16(SB)/4, $0x3C800000 // 2^-6, the smallest normal E4M3 value
DATA e4m3c<>+20(SB)/4, $0x43E00000 // 448, the largest
DATA e4m3c<>+24(SB)/4, $0x7F800000 // +Inf: |v| bits above are NaN
DATA e4m3c<>+28(SB)/4, $0x46800000 // magic 2^14: its float32 ulp is 2^-9
DATA e4m3c<>+32(SB)/4, $0x337FFFFF // the float32 below 2^-24
GLOBL e4m3c<>(SB), RODATA|NOPTR, $36
