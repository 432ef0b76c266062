package cpufeat

// Extensions a kernel family may have beyond its base, which the integer
// kernels of internal/qgemm use when the family is selected. They are read
// once, at start-up, from golang.org/x/sys/cpu, so GODEBUG switches them off
// like the families: GODEBUG=cpu.avx512vnni=off (the AVX-512 integer
// kernels fall back to VPMADDWD), cpu.avxvnni=off (the AVX2 ones to
// VPMADDWD) and cpu.asimddp=off (the NEON ones to SMULL/SADALP). All are
// false under the purego build tag and on architectures without assembly.
var (
	// AVX512VNNI reports AVX512-VNNI (VPDPBUSD on ZMM registers) on a CPU
	// that supports the AVX512 family.
	AVX512VNNI = hasAVX512VNNI()
	// AVXVNNI reports AVX-VNNI (the VEX form of VPDPBUSD, on YMM
	// registers) on a CPU that supports the AVX2 family.
	AVXVNNI = hasAVXVNNI()
	// ASIMDDP reports the ARMv8.2 dot product instructions (SDOT, UDOT) on a
	// CPU that supports the NEON family.
	ASIMDDP = hasASIMDDP()
)
