package fuzz

import (
	"os"
	"testing"

	"github.com/tensorquant/tensorquant/internal/qgemm"
	"github.com/tensorquant/tensorquant/internal/testkit/childprobe"
)

// TestMain lets the integer kernels' fuzz targets run the AVX-VNNI family
// on a CPU that executes it without reporting it (qgemm.HiddenAVXVNNI),
// once a child process has run one of its kernels without faulting.
func TestMain(m *testing.M) {
	if childprobe.Run("TQ_FUZZ_PROBE_AVXVNNI", qgemm.HiddenAVXVNNI(), func() { qgemm.ProbeAVXVNNI() }) {
		qgemm.AllowAVXVNNI()
	}
	os.Exit(m.Run())
}
