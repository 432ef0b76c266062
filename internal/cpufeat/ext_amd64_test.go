//go:build gc && !purego

package cpufeat

import (
	"os"
	"strings"
	"testing"
)

// TestExtensionsMatchCPUInfo cross-checks AVX512VNNI and AVXVNNI against
// the kernel's flags ("avx512_vnni", "avx_vnni"), so that a CPU with VNNI
// never silently runs the VPMADDWD fallback; GODEBUG may switch them off
// on purpose.
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
	listed := " " + strings.Join(flags, " ") + " "
	for _, e := range []struct {
		name, flag string
		impl       Impl
		has        bool
	}{
		{"AVX512VNNI", "avx512_vnni", AVX512, AVX512VNNI},
		{"AVXVNNI", "avx_vnni", AVX2, AVXVNNI},
	} {
		want := Supported(e.impl) && strings.Contains(listed, " "+e.flag+" ")
		if e.has && !want {
			t.Errorf("%s detected but /proc/cpuinfo does not list %s (or %v is off)", e.name, e.flag, e.impl)
		}
		if want && !e.has && !strings.Contains(os.Getenv("GODEBUG"), "cpu.") {
			t.Errorf("/proc/cpuinfo lists %s but %s is false", e.flag, e.name)
		}
	}
	if ASIMDDP {
		t.Error("ASIMDDP is true on amd64")
	}
}
