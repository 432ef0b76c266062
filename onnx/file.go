package onnx

import (
	"fmt"

	"github.com/tensorquant/tensorquant/internal/atomicfile"
	"github.com/tensorquant/tensorquant/internal/readfile"
)

// WriteFile encodes m (see Marshal) and writes it to path atomically: into
// a temporary file in the same directory, synced to disk, then renamed over
// path, so that a reader never sees a partial model. An existing file keeps
// its mode (a new one gets 0666 minus the umask), a symbolic link is
// written through, and a path that is not a regular file (a device, a
// directory) is refused.
//
// It returns Marshal's errors and any error from creating, writing,
// syncing or renaming the file, naming path (the temporary file is removed
// then).
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

// ReadFile reads and decodes the model in path (see Unmarshal). It refuses
// what is not a regular file (a device such as /dev/zero, a named pipe, a
// directory) without reading it, and reads no more than the file's size.
// It returns the error of reading the file or a *DecodeError.
func ReadFile(path string) (*Model, error) {
	b, err := readfile.Read(path, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return Unmarshal(b)
}
