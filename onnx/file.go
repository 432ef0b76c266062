package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	return writeAtomic(path, b)
}

func writeAtomic(path string, b []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("onnx: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("onnx: write %s: %w", path, err)
		}
	}()
	if _, err = f.Write(b); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable; not every system can sync a directory.
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		if serr := d.Sync(); serr != nil && !errors.Is(serr, os.ErrInvalid) {
			d.Close()
			return serr
		}
		d.Close()
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
