package qgemm

import (
	"os"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/childprobe"
)

// TestMain finds out, before the tests, whether this CPU runs famAVXVNNI's
// kernels although it does not report AVX-VNNI (HiddenAVXVNNI): a child
// process runs one, which faults where the instruction does not exist. If
// it runs, right or wrong, the tests and benchmarks cover the family here
// too, and fail if it computes wrong sums.
func TestMain(m *testing.M) {
	if childprobe.Run("TQ_QGEMM_PROBE_AVXVNNI", HiddenAVXVNNI(), func() { ProbeAVXVNNI() }) {
		AllowAVXVNNI()
	}
	os.Exit(m.Run())
}

// TestAVXVNNIFamily says whether the AVX-VNNI kernels are tested here, and
// fails if they run and compute wrong sums.
func TestAVXVNNIFamily(t *testing.T) {
	if supported(famAVXVNNI) && !ProbeAVXVNNI() {
		t.Fatal("the AVX-VNNI kernel's sums are not dotGeneric's")
	}
	switch {
	case cpufeat.AVXVNNI:
		t.Log("AVX-VNNI reported by the CPU: the family is selected and tested")
	case avxVNNIProbed:
		t.Log("AVX-VNNI not reported, but a child process ran the family's kernel: tested as a family")
	default:
		t.Log("AVX-VNNI neither reported nor executable here (or switched off): the family is not tested")
	}
}
