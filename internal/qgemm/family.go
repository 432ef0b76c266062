package qgemm

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"unsafe"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// family is one set of micro-kernels: a cpufeat family, refined by the
// extensions it has.
type family uint8

const (
	famGeneric      family = iota // pure Go, the specification
	famAVX2                       // VPMADDWD on YMM
	famAVX512                     // VPMADDWD on ZMM (AVX512BW)
	famAVX512VNNI                 // VPDPBUSD on ZMM
	famAVX512VNNI32               // the same, in tiles of 32 columns (narrow weights)
	famAVXVNNI                    // VPDPBUSD on YMM (AVX-VNNI, VEX-encoded)
	famNEON                       // SMULL/SADALP (ARMv8.0)
	famNEONDot                    // SDOT (ARMv8.2 dot product)
	numFamilies
)

func (f family) String() string {
	return [...]string{"generic", "avx2", "avx512", "avx512vnni", "avx512vnni32", "avxvnni", "neon", "neondot", "unknown"}[min(f, numFamilies)]
}

// ymm reports whether f is one of the families on 256-bit registers alone
// (famAVX2, famAVXVNNI), which share the AVX2 epilogues and depthwise
// kernels.
func (f family) ymm() bool { return f == famAVX2 || f == famAVXVNNI }

// geometry is a family's tile: mr rows (activation rows, through
// pointers) by nr columns (weight columns, packed); whether its kernels
// read the activation bytes as int8 (else as uint8); and whether they read
// them widened to 16 bits (uint8 values zero-extended, which the VPMADDWD
// kernels multiply without a conversion per row).
type geometry struct {
	mr, nr int
	signed bool
	wide   bool
}

// es is the size in bytes of one activation element the kernels read.
func (g geometry) es() int {
	if g.wide {
		return 2
	}
	return 1
}

// elem returns activation element i of b, as the kernels read it.
func (g geometry) elem(b []byte, i int) int32 {
	if g.wide {
		return int32(b[2*i]) | int32(b[2*i+1])<<8
	}
	return kappa(b[i], g.signed)
}

// sum returns the sum of the first n activation elements of b.
func (g geometry) sum(b []byte, n int) int32 {
	var s int32
	for i := range n {
		s += g.elem(b, i)
	}
	return s
}

var geometries = [numFamilies]geometry{
	famGeneric:      {mr: 4, nr: 8},
	famAVX2:         {mr: 6, nr: 8, wide: true},
	famAVX512:       {mr: 6, nr: 32, wide: true},
	famAVX512VNNI:   {mr: 6, nr: 64},
	famAVX512VNNI32: {mr: 6, nr: 32},
	famAVXVNNI:      {mr: 6, nr: 16},
	famNEON:         {mr: 4, nr: 8, signed: true},
	famNEONDot:      {mr: 8, nr: 8, signed: true},
}

// maxMR and maxNR bound every family's tile (scratch sizes).
const (
	maxMR = 8
	maxNR = 64
)

// avxVNNIProbed, set by AllowAVXVNNI, makes famAVXVNNI supported on a
// CPU whose CPUID does not report AVX-VNNI but which runs its kernels (a
// virtual machine may hide the feature of its host).
var avxVNNIProbed bool

// HiddenAVXVNNI reports whether the AVX-VNNI family is not supported here
// only because the CPU does not report AVX-VNNI: this build has its
// kernels, the AVX2 family is on, and GODEBUG does not switch the
// extension off. Tests then run ProbeAVXVNNI in a child process
// (internal/testkit/childprobe) and, if it does not fault, AllowAVXVNNI.
func HiddenAVXVNNI() bool {
	return hasAsm && runtime.GOARCH == "amd64" && cpufeat.Supported(cpufeat.AVX2) && !cpufeat.AVXVNNI &&
		!strings.Contains(os.Getenv("GODEBUG"), "avxvnni")
}

// ProbeAVXVNNI runs the AVX-VNNI family's kernel of 6 rows once on fixed
// operands and reports whether its sums are the generic code's. It is
// for tests, in a child process: on a CPU without the instruction the
// kernel faults and ends the process.
func ProbeAVXVNNI() bool {
	g := geometries[famAVXVNNI]
	const c4 = 8
	rows := make([][]byte, g.mr)
	ind := make([]unsafe.Pointer, g.mr)
	for r := range rows {
		rows[r] = make([]byte, 4*c4)
		for i := range rows[r] {
			rows[r][i] = byte(37*r + 11*i + 200)
		}
		ind[r] = unsafe.Pointer(&rows[r][0])
	}
	w := make([]int8, 4*c4*g.nr)
	for i := range w {
		w[i] = int8(29*i - 100)
	}
	got, want := make([]int32, g.mr*g.nr), make([]int32, g.mr*g.nr)
	dot(famAVXVNNI, g.mr, 1, c4, ind, w, got)
	dotGeneric(g, 1, c4, ind, w, want)
	return slices.Equal(got, want)
}

// AllowAVXVNNI makes the AVX-VNNI family supported (Families, Use) on a
// CPU that does not report AVX-VNNI, for the tests of this package and of
// its callers once ProbeAVXVNNI has run in a child process without
// faulting. It must not be called while other goroutines pack.
func AllowAVXVNNI() { avxVNNIProbed = true }

// override, when a test sets it (useFamily), replaces the selected family.
var override *family

// useFamily makes packing use family f until the returned function runs.
func useFamily(f family) (restore func()) {
	prev := override
	override = &f
	return func() { override = prev }
}

// selected is the family the entry points use: the one of
// cpufeat.Selected, with its extensions.
func selected() family {
	if override != nil {
		return *override
	}
	switch cpufeat.Selected {
	case cpufeat.AVX512:
		if cpufeat.AVX512VNNI {
			return famAVX512VNNI
		}
		return famAVX512
	case cpufeat.AVX2:
		if cpufeat.AVXVNNI {
			return famAVXVNNI
		}
		return famAVX2
	case cpufeat.NEON:
		if cpufeat.ASIMDDP {
			return famNEONDot
		}
		return famNEON
	}
	return famGeneric
}

// supported reports whether this CPU and build can run family f.
func supported(f family) bool {
	switch f {
	case famGeneric:
		return true
	case famAVX2:
		return hasAsm && cpufeat.Supported(cpufeat.AVX2)
	case famAVX512:
		return hasAsm && cpufeat.Supported(cpufeat.AVX512)
	case famAVX512VNNI, famAVX512VNNI32:
		return hasAsm && cpufeat.Supported(cpufeat.AVX512) && cpufeat.AVX512VNNI
	case famAVXVNNI:
		return hasAsm && cpufeat.Supported(cpufeat.AVX2) && (cpufeat.AVXVNNI || avxVNNIProbed)
	case famNEON:
		return hasAsm && cpufeat.Supported(cpufeat.NEON)
	case famNEONDot:
		return hasAsm && cpufeat.Supported(cpufeat.NEON) && cpufeat.ASIMDDP
	}
	return false
}

// families returns every family this CPU and build can run, generic first.
func families() []family {
	var out []family
	for f := range numFamilies {
		if supported(f) {
			out = append(out, f)
		}
	}
	return out
}

// Implementation returns the name of the kernel family that products and
// convolutions packed now use: "generic", "avx2", "avx512" (VPMADDWD on
// 512-bit registers), "avx512vnni", "avx512vnni32" (its kernels on tiles
// of 32 columns, which weights of few columns use), "avxvnni" (VPDPBUSD on
// 256-bit registers, for CPUs with AVX-VNNI and AVX2 but not AVX-512),
// "neon" (SMULL/SADALP) or "neondot".
func Implementation() string { return selected().String() }

// Families returns the names of the kernel families this CPU and build can
// run, "generic" (the specification) first: on amd64 with AVX512-VNNI
// both 512-bit families (VPDPBUSD and VPMADDWD), on arm64 with the dot
// product both NEON ones, which cpufeat's families alone do not reach.
func Families() []string {
	var out []string
	for _, f := range families() {
		out = append(out, f.String())
	}
	return out
}

// Use makes products and convolutions packed from now on use the kernel
// family named name (one of Families) and returns a function that restores
// the previous choice. It is meant for tests, benchmarks and fuzz targets,
// and must not be called while other goroutines pack. It panics if this
// CPU and build cannot run the family, rather than let the assembly fault.
func Use(name string) (restore func()) {
	for _, f := range families() {
		if f.String() == name {
			return useFamily(f)
		}
	}
	panic("qgemm: kernel family " + name + " is not supported here")
}
