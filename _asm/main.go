// Command _asm generates tensorquant's amd64 assembly with avo
// (github.com/mmcloughlin/avo), the way Go's crypto packages generate
// theirs: one Go description per kernel family, called once for AVX2 and
// once for AVX-512. It lives in its own module so that the library's
// go.mod stays free of avo.
//
// Run it from this directory:
//
//	go run .            # rewrites the .s files in the repository
//	go run . -out DIR   # writes the same tree under DIR
//
// `make test` does the second into a temporary directory and compares the
// result with the committed files byte for byte.
//
// The kernels implement the stubs declared in the packages' _amd64.go
// files (avo reads their signatures, and the layout of the structs they
// point to, from the package, and the constants they use), and follow one
// tail convention (see loop in x86.go): a kernel takes slices of at least 8
// elements (the dispatcher runs the generic Go code on shorter ones); its
// vector loops cover len &^ 7 elements, the AVX-512 ones 16 lanes at a time
// and one 8-lane step at the end, and where len is not a multiple of 8 the
// results of the last 8 elements, computed before anything is stored, are
// stored last over the overlap.
// The binning kernels of histc.go are the exception: counts cannot
// overlap, so they bin len &^ 7 elements and Go bins the rest.
package main

import (
	"flag"
	"log"
	"os"
	"path"
	"path/filepath"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/pass"
	"github.com/mmcloughlin/avo/printer"
)

const module = "github.com/tensorquant/tensorquant"

// outputs are the generated files: path in the repository, package (import
// path below the module) and the description that fills the file.
var outputs = []struct {
	path, pkg string
	gen       func(c *build.Context)
}{
	{"reduce/absmax_amd64.s", "reduce", reduceKernels},
	{"fakequant/kernels_amd64.s", "fakequant", fakequantKernels},
	{"fakequant/fp8_amd64.s", "fakequant", fp8Kernels},
	{"fakequant/e4m3_amd64.s", "fakequant", e4m3Kernels},
	{"histogram/histc_amd64.s", "histogram", histcKernels},
	{"internal/gemm/kernel_amd64.s", "internal/gemm", gemmKernels},
	{"internal/qgemm/kernel_amd64.s", "internal/qgemm", qgemmKernels},
	{"internal/vecmath/vecmath_amd64.s", "internal/vecmath", vecmathKernels},
}

// command is how the files name their generator: the Makefile target
// that runs this program.
var command = []string{"make", "asm"}

func main() {
	log.SetFlags(0)
	// avo's build package registers its own flags on flag.CommandLine.
	fs := flag.NewFlagSet("_asm", flag.ExitOnError)
	out := fs.String("out", "..", "the repository directory to write the files under")
	if err := fs.Parse(os.Args[1:]); err != nil {
		log.Fatal(err)
	}
	// The stubs are in _amd64.go files, which avo only sees for amd64.
	if err := os.Setenv("GOARCH", "amd64"); err != nil {
		log.Fatal(err)
	}
	for _, o := range outputs {
		c := build.NewContext()
		c.Package(module + "/" + o.pkg)
		c.ConstraintExpr("gc,!purego")
		o.gen(c)
		f, err := c.Result()
		if err != nil {
			log.Fatalf("%s: %v", o.path, err)
		}
		interleaveChains(f)
		if err := pass.Compile.Execute(f); err != nil {
			log.Fatalf("%s: %v", o.path, err)
		}
		b, err := printer.NewGoAsm(printer.Config{Argv: command, Pkg: path.Base(o.pkg)}).Print(f)
		if err != nil {
			log.Fatalf("%s: %v", o.path, err)
		}
		dst := filepath.Join(*out, filepath.FromSlash(o.path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
