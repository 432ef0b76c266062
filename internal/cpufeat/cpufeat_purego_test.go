//go:build purego

package cpufeat

import "testing"

func TestPuregoIsGeneric(t *testing.T) {
	if Best != Generic || len(Available()) != 1 {
		t.Fatalf("purego build: Best = %v, Available = %v", Best, Available())
	}
}

func TestPuregoHasNoExtensions(t *testing.T) {
	if AVX512VNNI || AVXVNNI || ASIMDDP {
		t.Fatalf("purego build: AVX512VNNI = %v, AVXVNNI = %v, ASIMDDP = %v", AVX512VNNI, AVXVNNI, ASIMDDP)
	}
}
