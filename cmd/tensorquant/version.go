package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/histogram"
	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/qgemm"
	"github.com/tensorquant/tensorquant/reduce"
)

func runVersion(args []string, stdout, _ io.Writer) error {
	fs := newFlags("version", "", "tensorquant version", stdout)
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("takes no arguments, got %q", fs.Args())
	}
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	var avail []string
	for _, i := range cpufeat.Available() {
		avail = append(avail, i.String())
	}
	fmt.Fprintf(stdout, "tensorquant %s\n", version)
	fmt.Fprintf(stdout, "go          %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(stdout, "kernels     fakequant=%s reduce=%s histogram=%s int8=%s\n", fakequant.Implementation(), reduce.Implementation(), histogram.Implementation(), qgemm.Implementation())
	fmt.Fprintf(stdout, "cpu         %s\n", strings.Join(avail, " "))
	return nil
}
