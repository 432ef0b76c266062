package cpufeat

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for i, want := range []string{"generic", "avx2", "avx512", "neon", "unknown"} {
		if got := Impl(i).String(); got != want {
			t.Errorf("Impl(%d) = %q, want %q", i, got, want)
		}
	}
}

func TestBestIsWidestAvailable(t *testing.T) {
	a := Available()
	if a[0] != Generic {
		t.Fatalf("Available() = %v, want Generic first", a)
	}
	if Best != a[len(a)-1] {
		t.Fatalf("Best = %v, Available = %v", Best, a)
	}
}

// TestRequired fails when KERNELS_REQUIRE (for example "avx2,avx512" or
// "avx2,avx512,avx512vnni"; make
// test sets it from /proc/cpuinfo with scripts/kernels-require) names a
// family this machine should run but that was not detected, or when the
// family selected at start-up is narrower than the widest one named, so
// that a broken detection cannot hide behind a narrower family or the
// generic fallback in CI.
func TestRequired(t *testing.T) {
	req := os.Getenv("KERNELS_REQUIRE")
	if req == "" {
		t.Skip("KERNELS_REQUIRE not set")
	}
	var names []string
	for _, i := range Available() {
		names = append(names, i.String())
	}
	// The extensions of internal/qgemm's integer families: a required one
	// must be detected (qgemm's TestSelectedFamily then checks that its
	// family is the one selected).
	extensions := map[string]bool{"avx512vnni": AVX512VNNI, "avxvnni": AVXVNNI, "asimddp": ASIMDDP}
	widest := Generic
	for _, r := range strings.Split(req, ",") {
		r = strings.TrimSpace(r)
		if has, ok := extensions[r]; ok {
			if !has {
				t.Errorf("KERNELS_REQUIRE names the extension %q, which was not detected", r)
			}
			continue
		}
		i := slices.IndexFunc([]Impl{Generic, AVX2, AVX512, NEON}, func(i Impl) bool { return i.String() == r })
		if i < 0 {
			t.Errorf("KERNELS_REQUIRE names %q, which is no kernel family", r)
			continue
		}
		if !slices.Contains(names, r) {
			t.Errorf("KERNELS_REQUIRE names %q but only %v are available", r, names)
		}
		widest = max(widest, Impl(i))
	}
	if Best < widest {
		t.Errorf("%v is selected; KERNELS_REQUIRE names %v", Best, widest)
	}
}

// TestForSwitchesOnlyAVX512ByDefault: For hands AVX2 to lengths from
// avx2From on only when AVX-512 is the start-up choice on a CPU where
// SizeSwitch holds, and never once a family is forced with Use.
func TestForSwitchesOnlyAVX512ByDefault(t *testing.T) {
	defer func(s bool) { sizeSwitch = s }(sizeSwitch)
	for _, c := range []struct {
		sel              Impl
		sized, cpuSwitch bool
		n, from          int
		want             Impl
	}{
		{AVX512, true, true, 99, 100, AVX512},
		{AVX512, true, true, 100, 100, AVX2},
		{AVX512, true, true, 1 << 30, 100, AVX2},
		{AVX512, true, true, 1 << 30, 0, AVX512},
		{AVX512, true, false, 1 << 30, 100, AVX512},
		{AVX512, false, true, 1 << 30, 100, AVX512},
		{AVX2, true, true, 1 << 30, 100, AVX2},
		{NEON, true, true, 1 << 30, 100, NEON},
		{Generic, true, true, 1 << 30, 100, Generic},
	} {
		sizeSwitch = c.cpuSwitch
		restore := set(c.sel, c.sized)
		got := For(c.n, c.from)
		restore()
		if got != c.want {
			t.Errorf("Selected %v (by size %v, CPU switch %v): For(%d, %d) = %v, want %v", c.sel, c.sized, c.cpuSwitch, c.n, c.from, got, c.want)
		}
	}
	if Selected != Best || !bySize {
		t.Fatalf("restore left Selected %v, bySize %v", Selected, bySize)
	}
	restore := Use(Generic)
	if bySize {
		t.Error("Use left the switch by size on")
	}
	inner := Default()
	if Selected != Best || !bySize {
		t.Errorf("Default: Selected %v, bySize %v", Selected, bySize)
	}
	inner()
	restore()
}
