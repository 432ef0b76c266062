package onnx

import (
	"fmt"
	"os"

	"github.com/tensorquant/tensorquant/internal/atomicfile"
)

// WriteFile encodes m (see Marshal) and writes it to path atomically: into
// a temporary file in the same directory, synced to disk, then renamed over
// path, so that a reader never sees a partial model. The file's mode is
// 0644.
//
// It returns Marshal's errors and any error from creating, writing,
// syncing or renaming the file (the temporary file is removed then).
func WriteFile(path string, m *Model) error {
	b, err := Marshal(m)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(path, b); err != nil {
		return fmt.Errorf("onnx: write %s: %w", path, err)
	}
	return nil
}

// ReadFile reads and decodes the model in path (see Unmarshal). It returns
// the error of reading the file or a *DecodeError.
func ReadFile(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return Unmarshal(b)
}
