package qgemm

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// TestSelectedFamily checks the family each cpufeat family selects: the
// extension's kernels exactly when the CPU has the extension.
func TestSelectedFamily(t *testing.T) {
	want := map[cpufeat.Impl]family{cpufeat.Generic: famGeneric, cpufeat.AVX2: famAVX2, cpufeat.AVX512: famAVX512, cpufeat.NEON: famNEON}
	if cpufeat.AVX512VNNI {
		want[cpufeat.AVX512] = famAVX512VNNI
	}
	if cpufeat.AVXVNNI {
		want[cpufeat.AVX2] = famAVXVNNI
	}
	if cpufeat.ASIMDDP {
		want[cpufeat.NEON] = famNEONDot
	}
	for _, impl := range cpufeat.Available() {
		restore := cpufeat.Use(impl)
		got := Implementation()
		restore()
		if got != want[impl].String() {
			t.Errorf("under %v: %s, want %v", impl, got, want[impl])
		}
		if !supported(want[impl]) {
			t.Errorf("under %v: %v is selected but not supported", impl, want[impl])
		}
	}
	for f := range numFamilies + 1 {
		if f.String() == "" || (f == numFamilies) != (f.String() == "unknown") {
			t.Errorf("family %d is named %q", f, f)
		}
	}
	names := Families()
	if len(names) != len(families()) || names[0] != "generic" {
		t.Errorf("Families() = %v, want the names of %v", names, families())
	}
	for i, name := range names {
		restore := Use(name)
		if got := selected(); got != families()[i] {
			t.Errorf("Use(%q) selects %v", name, got)
		}
		restore()
	}
	defer func() {
		if recover() == nil {
			t.Error("Use of a family this CPU cannot run did not panic")
		}
	}()
	Use("unknown")
}
