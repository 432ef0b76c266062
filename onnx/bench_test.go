package onnx

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// torchvisionModel exports torchvision's MobileNetV2 (random weights, no
// download) with PyTorch's ONNX exporter into a temporary file, once per
// test binary. It returns "" when Debian's python3-torch and
// python3-torchvision are not installed.
var torchvisionModel = sync.OnceValue(func() string {
	dir, err := os.MkdirTemp("", "tensorquant-onnx-bench")
	if err != nil {
		return ""
	}
	p := filepath.Join(dir, "mobilenet_v2.onnx")
	script := `import sys, torch, torchvision
torch.manual_seed(0)
m = torchvision.models.mobilenet_v2().eval()
torch.onnx.export(m, torch.randn(1, 3, 224, 224), sys.argv[1], opset_version=13)`
	if exec.Command("/usr/bin/python3", "-c", script, p).Run() != nil {
		return ""
	}
	return p
})

// BenchmarkUnmarshal decodes real models: the conformance set's QDQ export
// (6 KB), PyTorch's export of MobileNetV2 (14 MB, mostly raw_data; needs
// python3-torch) and the same graph without its weights (the structure:
// nodes, attributes, value infos).
func BenchmarkUnmarshal(b *testing.B) {
	tiny, err := os.ReadFile(filepath.Join("..", "testdata", "conformance", "tiny_qdq_model.onnx"))
	if err != nil {
		b.Fatal(err)
	}
	run := func(name string, in []byte) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Unmarshal(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("tiny_qdq", tiny)
	p := torchvisionModel()
	if p == "" {
		b.Log("mobilenet_v2: skipped, /usr/bin/python3 cannot export it (python3-torch, python3-torchvision)")
		return
	}
	full, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	run("mobilenet_v2", full)
	m, err := Unmarshal(full)
	if err != nil {
		b.Fatal(err)
	}
	for i := range m.Graph.Initializer {
		m.Graph.Initializer[i].RawData = []byte{}
	}
	structure, err := Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	run("mobilenet_v2_structure", structure)
}
