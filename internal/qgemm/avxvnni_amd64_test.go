//go:build gc && !purego

package qgemm

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// probeEnv, set in the environment of a child of the test binary, makes it
// run probeAVXVNNI and exit.
const probeEnv = "TQ_QGEMM_PROBE_AVXVNNI"

// TestMain finds out, before the tests, whether this CPU runs famAVXVNNI's
// kernels although its CPUID does not report AVX-VNNI (a virtual machine
// may hide its host's feature): a child process runs one kernel, which
// faults (SIGILL) where the instruction does not exist. If it runs, right
// or wrong, the tests and benchmarks cover the family here too
// (avxVNNIProbed), and fail if it computes wrong sums. GODEBUG=cpu.avxvnni=off
// skips the probe.
func TestMain(m *testing.M) {
	if os.Getenv(probeEnv) != "" {
		probeAVXVNNI()
		os.Exit(0)
	}
	if !cpufeat.AVXVNNI && cpufeat.Supported(cpufeat.AVX2) && !strings.Contains(os.Getenv("GODEBUG"), "avxvnni") {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), probeEnv+"=1")
		avxVNNIProbed = cmd.Run() == nil
	}
	os.Exit(m.Run())
}

// probeAVXVNNI runs dotR6AVXVNNI on one tap of 8 quads and reports whether
// its sums are dotGeneric's.
func probeAVXVNNI() bool {
	g := geometries[famAVXVNNI]
	const c4 = 8
	rows := make([][]byte, g.mr)
	ind := make([]unsafe.Pointer, g.mr)
	for r := range rows {
		rows[r] = make([]byte, 4*c4)
		for i := range rows[r] {
			rows[r][i] = byte(37*r + 11*i + 200)
		}
		ind[r] = unsafe.Pointer(&rows[r][0])
	}
	w := make([]int8, 4*c4*g.nr)
	for i := range w {
		w[i] = int8(29*i - 100)
	}
	got, want := make([]int32, g.mr*g.nr), make([]int32, g.mr*g.nr)
	dotR6AVXVNNI(1, c4, ind, w, got)
	dotGeneric(g, 1, c4, ind, w, want)
	return slices.Equal(got, want)
}

// TestAVXVNNIFamily says whether the AVX-VNNI kernels are tested here, and
// fails if they run and compute wrong sums.
func TestAVXVNNIFamily(t *testing.T) {
	if supported(famAVXVNNI) && !probeAVXVNNI() {
		t.Fatal("dotR6AVXVNNI's sums are not dotGeneric's")
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
