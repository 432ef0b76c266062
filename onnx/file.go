package onnx

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"

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
// A model whose encoding would exceed protobuf's 2 GiB limit
// (MaxModelSize) is written as WriteFileExternal writes it with the
// default options: the initializers of 1 KiB or more in PATH.data beside
// it. Smaller models are one self-contained file.
//
// It returns Marshal's errors and any error from creating, writing,
// syncing or renaming the file, naming path (the temporary file is removed
// then).
func WriteFile(path string, m *Model) error {
	if m == nil || m.Graph == nil || m.Graph.initializerBytes() < maxModelSize {
		b, err := Marshal(m)
		if err == nil {
			return writeBytes(path, b)
		}
		if !errors.Is(err, ErrTooLarge) || m.Graph == nil {
			return err
		}
	}
	return WriteFileExternal(path, m, ExternalOptions{})
}

func writeBytes(path string, b []byte) error {
	if err := atomicfile.WriteBytes(path, b); err != nil {
		return fmt.Errorf("onnx: write %s: %w", path, err)
	}
	return nil
}

// initializerBytes returns the bytes the initializers' data takes,
// roughly (typed fields at their widest encoding).
func (g *Graph) initializerBytes() int64 {
	var n int64
	for i := range g.Initializer {
		t := &g.Initializer[i]
		n += int64(len(t.RawData)) + 5*int64(len(t.FloatData)) + 10*int64(len(t.Int32Data)+len(t.Int64Data)+len(t.Uint64Data)) + 8*int64(len(t.DoubleData))
	}
	return n
}

// ExternalOptions says how WriteFileExternal stores initializers outside
// the model file.
type ExternalOptions struct {
	// DataFile names the file that receives the data, relative to the
	// model's directory ('/' separators, no ".." component); "" means
	// the model's file name followed by ".data" ("model.onnx.data").
	DataFile string
	// MinSize is the smallest raw_data that moves to the data file;
	// smaller initializers stay in the model. 0 means 1024, as onnx's
	// convert_model_to_external_data.
	MinSize int
}

// The data of an initializer of at least externalAlignMin bytes starts at
// a multiple of externalAlign in the data file, so that a runtime can map
// it (onnx's defaults: 1 MiB and 64 KiB).
const (
	externalAlignMin = 1 << 20
	externalAlign    = 64 << 10
)

// WriteFileExternal writes m to path, as WriteFile does, with the
// raw_data of every initializer of at least o.MinSize bytes moved to one
// data file beside it (ONNX's external data, which ONNX Runtime, onnx
// and ReadExternalData read): each such initializer gets data_location
// EXTERNAL and external_data entries location, offset and length. m
// itself is not modified. Initializers whose data is in the typed fields
// (float_data ...), or already external, stay as they are.
//
// Both files are written atomically, the data file first: a reader of
// the previous model at path never sees a partial data file, but may see
// the new data file with the old model until path is renamed. No data
// file is written when no initializer moves.
//
// It returns an error for a DataFile that is not a local relative path or
// that names the model file itself, Marshal's errors (an encoding above
// MaxModelSize is still ErrTooLarge), and the errors of writing either
// file, naming it.
func WriteFileExternal(path string, m *Model, o ExternalOptions) error {
	if m == nil || m.Graph == nil {
		return WriteFile(path, m)
	}
	data := o.DataFile
	if data == "" {
		data = filepath.Base(path) + ".data"
	}
	name, err := localPath(data)
	if err != nil {
		return fmt.Errorf("onnx: external data file: %w", err)
	}
	dataPath := filepath.Join(filepath.Dir(path), name)
	if filepath.Clean(dataPath) == filepath.Clean(path) {
		return fmt.Errorf("onnx: external data file %q is the model file", data)
	}
	minSize := o.MinSize
	if minSize <= 0 {
		minSize = 1024
	}
	mc := *m
	g := *m.Graph
	mc.Graph = &g
	g.Initializer = slices.Clone(g.Initializer)
	type chunk struct {
		off int64
		b   []byte
	}
	var chunks []chunk
	var off int64
	for i := range g.Initializer {
		t := &g.Initializer[i]
		if t.DataLocation != DataLocationDefault || len(t.RawData) < minSize {
			continue
		}
		if len(t.RawData) >= externalAlignMin {
			off = (off + externalAlign - 1) / externalAlign * externalAlign
		}
		n := int64(len(t.RawData))
		chunks = append(chunks, chunk{off, t.RawData})
		t.setExternal(data, off, n)
		off += n
	}
	b, err := Marshal(&mc)
	if err != nil {
		return err
	}
	if len(chunks) > 0 {
		err := atomicfile.WriteFile(dataPath, func(w io.Writer) error {
			var at int64
			for _, c := range chunks {
				if _, err := io.CopyN(w, zeros{}, c.off-at); err != nil {
					return err
				}
				if _, err := w.Write(c.b); err != nil {
					return err
				}
				at = c.off + int64(len(c.b))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("onnx: write %s: %w", dataPath, err)
		}
	}
	return writeBytes(path, b)
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
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
