// Package fuzz holds the project's fuzz targets (go test -fuzz): targets
// that pin every assembly kernel to its pure-Go specification on arbitrary
// float32 bit patterns, amax values and formats, and targets that feed
// hostile bytes to the decoders (calibrator state, ONNX). It sits beside the
// pipeline and imports only public APIs (plus the kernel selector and the
// integer products of internal/qgemm).
//
// Run one with, for example:
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzFakeQuant$' -fuzztime 30s
//
// Without -fuzz the seed corpus (testdata/fuzz) runs as ordinary tests,
// which is how the targets run under qemu.
package fuzz
