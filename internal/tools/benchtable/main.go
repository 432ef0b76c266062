// Command benchtable turns the output of the kernel benchmarks (go test
// -bench, see internal/testkit/kerneltest) into a Markdown table: for every kernel
// and size, the throughput of every implementation in elements per second
// and its ratio to copy() and to the naive loop of the same run, with the
// family that dispatch selects marked. `make bench` pipes into it:
//
//	go test -run '^$' -bench . ./reduce ./fakequant | go run ./internal/tools/benchtable
//
// With -count above 1 each row keeps its best (fastest) run, the usual way to
// see through interference from other processes. It exits with status 1 if
// the input reports a failure or holds no kernel benchmark.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	t, err := parse(os.Stdin)
	if err == nil {
		err = t.write(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// result is the best run of one Benchmark<Kernel>/impl=<impl>/n=<n>.
type result struct {
	nsPerOp  float64
	selected bool
}

type key struct {
	kernel, impl string
	n            int
}

// table is everything parse keeps, in order of first appearance.
type table struct {
	cpu     string
	kernels []string
	impls   map[string][]string // per kernel
	sizes   map[string][]int    // per kernel
	results map[key]*result
}

// parse reads go test -bench output.
func parse(r io.Reader) (*table, error) {
	t := &table{impls: map[string][]string{}, sizes: map[string][]int{}, results: map[key]*result{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "cpu: ") && t.cpu == "":
			t.cpu = strings.TrimSpace(strings.TrimPrefix(line, "cpu: "))
		case strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "panic:"):
			return nil, fmt.Errorf("the benchmarks failed: %s", line)
		case strings.HasPrefix(line, "Benchmark"):
			if err := t.add(line); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t.kernels) == 0 {
		return nil, errors.New("no Benchmark<Kernel>/impl=<impl>/n=<n> results in the input")
	}
	return t, nil
}

// add records one result line such as
// "BenchmarkAbsMax/impl=avx2/n=4096-2  1000  85.1 ns/op  192.5 MB/s  1.000 selected".
// Lines of other benchmarks, and the name-only lines that -v or a long
// benchmark print, are skipped.
func (t *table) add(line string) error {
	f := strings.Fields(line)
	if len(f) < 4 || f[3] != "ns/op" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(f[0], "Benchmark"), "/")
	if len(parts) != 3 || !strings.HasPrefix(parts[1], "impl=") || !strings.HasPrefix(parts[2], "n=") {
		return nil
	}
	kernel, impl := parts[0], strings.TrimPrefix(parts[1], "impl=")
	size := strings.TrimPrefix(parts[2], "n=")
	if i := strings.LastIndexByte(size, '-'); i >= 0 { // the -GOMAXPROCS suffix
		size = size[:i]
	}
	n, err := strconv.Atoi(size)
	if err != nil || n <= 0 {
		return fmt.Errorf("bad size in %q", f[0])
	}
	ns, err := strconv.ParseFloat(f[2], 64)
	if err != nil || ns <= 0 {
		return fmt.Errorf("bad ns/op %q in %q", f[2], f[0])
	}
	selected := false
	for i := 4; i+1 < len(f); i += 2 {
		if f[i+1] == "selected" && f[i] != "0" {
			selected = true
		}
	}
	if !slices.Contains(t.kernels, kernel) {
		t.kernels = append(t.kernels, kernel)
	}
	if !slices.Contains(t.impls[kernel], impl) {
		t.impls[kernel] = append(t.impls[kernel], impl)
	}
	if !slices.Contains(t.sizes[kernel], n) {
		t.sizes[kernel] = append(t.sizes[kernel], n)
		slices.Sort(t.sizes[kernel])
	}
	k := key{kernel, impl, n}
	if r := t.results[k]; r == nil || ns < r.nsPerOp {
		t.results[k] = &result{nsPerOp: ns, selected: selected}
	}
	return nil
}

// write prints the table in Markdown.
func (t *table) write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	if t.cpu != "" {
		fmt.Fprintf(bw, "cpu: %s\n\n", t.cpu)
	}
	fmt.Fprintln(bw, "| kernel | n | impl | G elem/s | vs copy | vs naive |")
	fmt.Fprintln(bw, "|---|---:|---|---:|---:|---:|")
	for _, kernel := range t.kernels {
		for _, n := range t.sizes[kernel] {
			rate := func(impl string) float64 {
				if r := t.results[key{kernel, impl, n}]; r != nil {
					return float64(n) / r.nsPerOp // elements per ns = G elements/s
				}
				return 0
			}
			for _, impl := range t.impls[kernel] {
				r := t.results[key{kernel, impl, n}]
				if r == nil {
					continue
				}
				name := impl
				if r.selected {
					name += " *"
				}
				g := rate(impl)
				fmt.Fprintf(bw, "| %s | %s | %s | %.2f | %s | %s |\n", kernel, sizeName(n), name, g, ratio(g, rate("copy")), ratio(g, rate("naive")))
			}
		}
	}
	fmt.Fprintln(bw, "\n`*` marks the family dispatch selects on this machine; each row is the fastest of its runs.")
	return bw.Flush()
}

// ratio formats a/b, or "-" without b.
func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// sizeName writes n in Ki or Mi when it is a whole number of them.
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMi", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKi", n>>10)
	}
	return strconv.Itoa(n)
}
