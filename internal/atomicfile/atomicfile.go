// Package atomicfile writes files so that readers see either the old
// content or the new, never a torn mix: every file tensorquant writes
// (checkpoints, calibrator state, ONNX models, reports, .npy arrays) goes
// through WriteFile.
package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// WriteFile creates a temporary file next to path, lets fill write the
// content through a buffered writer, syncs it to disk and renames it over
// path. On any error (from fill or from the file system) the temporary file
// is removed, path is left untouched, and the error is returned.
func WriteFile(path string, fill func(w io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	// Make the rename itself durable.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// WriteBytes is WriteFile for content already in memory.
func WriteBytes(path string, b []byte) error {
	return WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
