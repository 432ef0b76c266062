//go:build gc && !purego

package cpufeat

import (
	"os"
	"strings"
	"testing"
)

// TestExtensionsMatchCPUInfo cross-checks AVX512VNNI against the kernel's
// flags ("avx512_vnni"), so that a CPU with VNNI never silently runs the
// VPMADDWD fallback; GODEBUG may switch it off on purpose.
func TestExtensionsMatchCPUInfo(t *testing.T) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skip("no /proc/cpuinfo")
	}
	var flags []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "flags") {
			flags = strings.Fields(line[strings.Index(line, ":")+1:])
			break
		}
	}
	want := Supported(AVX512) && strings.Contains(" "+strings.Join(flags, " ")+" ", " avx512_vnni ")
	if AVX512VNNI && !want {
		t.Errorf("AVX512VNNI detected but /proc/cpuinfo does not list avx512_vnni (or AVX512 is off)")
	}
	if want && !AVX512VNNI && !strings.Contains(os.Getenv("GODEBUG"), "cpu.") {
		t.Errorf("/proc/cpuinfo lists avx512_vnni but AVX512VNNI is false")
	}
	if ASIMDDP {
		t.Error("ASIMDDP is true on amd64")
	}
}
