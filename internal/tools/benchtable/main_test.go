package main

import (
	"strings"
	"testing"
)

const input = `goos: linux
goarch: amd64
pkg: github.com/tensorquant/tensorquant/fakequant
cpu: Test CPU @ 3.00GHz
BenchmarkQuantInt8
BenchmarkQuantInt8/impl=generic/n=4096-2         	   19308	     8000 ns/op	2048.00 MB/s
BenchmarkQuantInt8/impl=avx512/n=4096-2          	 1000000	      200.0 ns/op	81920.00 MB/s	         1.000 selected
BenchmarkQuantInt8/impl=avx512/n=4096-2          	 1000000	      256.0 ns/op	64000.00 MB/s	         1.000 selected
BenchmarkQuantInt8/impl=naive/n=4096-2           	    3450	    16000 ns/op	1024.00 MB/s
BenchmarkQuantInt8/impl=copy/n=4096-2            	 1316280	      160.0 ns/op	102400.00 MB/s
BenchmarkQuantInt8/impl=avx512/n=1048576-2       	    2826	    100000 ns/op	41943.04 MB/s	         1.000 selected
BenchmarkQuantInt8/impl=copy/n=1048576-2         	     760	    200000 ns/op	20971.52 MB/s
BenchmarkUnrelated-2                             	 5000000	       20.0 ns/op
PASS
ok  	github.com/tensorquant/tensorquant/fakequant	33.058s
pkg: github.com/tensorquant/tensorquant/reduce
cpu: Test CPU @ 3.00GHz
BenchmarkAbsMax/impl=avx2/n=100-2 	 1000	 50.0 ns/op	8000 MB/s
BenchmarkAbsMax/impl=copy/n=100-2 	 1000	 25.0 ns/op	16000 MB/s
PASS
`

const want = "cpu: Test CPU @ 3.00GHz\n" +
	"\n" +
	"| kernel | n | impl | G elem/s | vs copy | vs naive |\n" +
	"|---|---:|---|---:|---:|---:|\n" +
	"| QuantInt8 | 4Ki | generic | 0.51 | 0.02x | 2.00x |\n" +
	"| QuantInt8 | 4Ki | avx512 * | 20.48 | 0.80x | 80.00x |\n" +
	"| QuantInt8 | 4Ki | naive | 0.26 | 0.01x | 1.00x |\n" +
	"| QuantInt8 | 4Ki | copy | 25.60 | 1.00x | 100.00x |\n" +
	"| QuantInt8 | 1Mi | avx512 * | 10.49 | 2.00x | - |\n" +
	"| QuantInt8 | 1Mi | copy | 5.24 | 1.00x | - |\n" +
	"| AbsMax | 100 | avx2 | 2.00 | 0.50x | - |\n" +
	"| AbsMax | 100 | copy | 4.00 | 1.00x | - |\n" +
	"\n" +
	"`*` marks the family dispatch selects on this machine; each row is the fastest of its runs.\n"

func TestTable(t *testing.T) {
	tb, err := parse(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := tb.write(&b); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"", "no Benchmark<Kernel>/impl=<impl>/n=<n> results in the input"},
		{input + "--- FAIL: BenchmarkAbsMax\n", "the benchmarks failed: --- FAIL: BenchmarkAbsMax"},
		{input + "FAIL\tgithub.com/tensorquant/tensorquant/reduce\t1.0s\n", "the benchmarks failed: FAIL\tgithub.com/tensorquant/tensorquant/reduce\t1.0s"},
		{"BenchmarkX/impl=a/n=x-2 1 5.0 ns/op\n", `bad size in "BenchmarkX/impl=a/n=x-2"`},
		{"BenchmarkX/impl=a/n=8-2 1 zero ns/op\n", `bad ns/op "zero" in "BenchmarkX/impl=a/n=8-2"`},
	} {
		_, err := parse(strings.NewReader(tc.in))
		if err == nil || err.Error() != tc.msg {
			t.Errorf("parse(%.40q) error = %v, want %q", tc.in, err, tc.msg)
		}
	}
}

func TestSizeName(t *testing.T) {
	for n, want := range map[int]string{4096: "4Ki", 65536: "64Ki", 1 << 20: "1Mi", 16 << 20: "16Mi", 1536: "1536", 100: "100", 3 << 20: "3Mi"} {
		if got := sizeName(n); got != want {
			t.Errorf("sizeName(%d) = %q, want %q", n, got, want)
		}
	}
}
