//go:build gc && !purego

package cpufeat

import (
	"os"
	"strings"
	"testing"
)

// TestDetectionMatchesCPUInfo cross-checks x/sys/cpu against the kernel's own
// view of the CPU, so that a CPU with AVX-512 never silently runs AVX2 code.
// GODEBUG can switch families off on purpose; the test then only checks that
// nothing was switched on.
func TestDetectionMatchesCPUInfo(t *testing.T) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skip("no /proc/cpuinfo")
	}
	var flags map[string]bool
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "flags") {
			flags = map[string]bool{}
			for _, f := range strings.Fields(line[strings.Index(line, ":")+1:]) {
				flags[f] = true
			}
			break
		}
	}
	want := map[Impl]bool{
		AVX2:   flags["avx2"],
		AVX512: flags["avx2"] && flags["avx512f"] && flags["avx512bw"] && flags["avx512dq"] && flags["avx512vl"],
	}
	off := os.Getenv("GODEBUG")
	for impl, w := range want {
		got := Supported(impl)
		if got && !w {
			t.Errorf("%v detected but /proc/cpuinfo does not list it", impl)
		}
		if w && !got && !strings.Contains(off, "cpu.") {
			t.Errorf("/proc/cpuinfo lists %v but it was not detected", impl)
		}
	}
}
