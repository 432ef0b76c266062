package quantize

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/idx"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/onnx"
)

// FileOptions control OpenFiles.
type FileOptions struct {
	// Shape is the shape of one sample of raw float32 files (without the
	// sample axis); nil means the graph input's, which must then be
	// static.
	Shape []int
	// Scale and Shift preprocess every FLOAT input: x·Scale + Shift, per
	// channel (axis 1 of the input, as in NCHW images) or, with one value,
	// for all; nil means 1 and 0. Mean and standard deviation
	// normalisation is Scale = 1/std, Shift = -mean/std.
	Scale, Shift []float32
}

// Files is a data set read from files (OpenFiles): each graph input's
// samples stream from its files in order, a batch at a time.
type Files struct {
	inputs []*inputStream
	n      int
	o      FileOptions
}

// inputStream is one graph input's samples: its files, one after the
// other, and where reading is.
type inputStream struct {
	spec    graph.ValueSpec
	segs    []segment
	cur     rowReader
	seg     int // index of the segment cur reads
	segRead int // rows of it read
	pos     int // rows read or skipped in all
}

// segment is one file's rows of one input.
type segment struct {
	path string
	rows int
	open func() (rowReader, error)
}

// rowReader reads a file's rows as arrays.
type rowReader interface {
	next(n int) (*npy.Array, error)
	skip(n int) error
	close() error
}

type npyRows struct {
	s *npy.Stream
	z *npy.NPZ // the archive to close with the stream, if any
}

func (r npyRows) next(n int) (*npy.Array, error) { return r.s.Next(n) }
func (r npyRows) skip(n int) error               { return r.s.Skip(n) }
func (r npyRows) close() error {
	err := r.s.Close()
	if r.z != nil {
		err = errors.Join(err, r.z.Close())
	}
	return err
}

type idxRows struct{ s *idx.Stream }

func (r idxRows) next(n int) (*npy.Array, error) {
	a, err := r.s.Next(n)
	if err != nil {
		return nil, err
	}
	if ints, err := a.Ints(); err == nil {
		v := make([]int64, len(ints))
		for i, x := range ints {
			v[i] = int64(x)
		}
		return npy.New(v, a.Shape...)
	}
	return npy.New(a.Float64s(), a.Shape...)
}

func (r idxRows) skip(n int) error {
	for n > 0 {
		k := min(n, 256)
		if _, err := r.s.Next(k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func (r idxRows) close() error { return r.s.Close() }

// fileKind is what a data file holds, told by its first bytes.
type fileKind int

const (
	kindRaw fileKind = iota
	kindNPY
	kindNPZ
	kindIDX
)

func sniff(path string) (fileKind, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b, _ := bufio.NewReader(f).Peek(6)
	switch {
	case len(b) >= 6 && string(b) == "\x93NUMPY":
		return kindNPY, nil
	case len(b) >= 4 && string(b[:4]) == "PK\x03\x04":
		return kindNPZ, nil
	case len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		return kindIDX, nil // gzip: the MNIST family's distribution
	case len(b) >= 4 && b[0] == 0 && b[1] == 0 && idx.Type(b[2]).Size() > 0 && b[3] > 0:
		return kindIDX, nil
	}
	return kindRaw, nil
}

// OpenFiles opens a data set for the inputs of g from files. Each spec is
// NAME=PATH (graph input NAME from PATH) or PATH alone: for a model of one
// input, that input; for a .npz archive (or a directory of them), every
// input from the member of its name. PATH is one file or a directory,
// whose files are read in name order as one sequence of samples (hidden
// files are skipped). A file is told by its first bytes: a .npy array, a
// .npz archive (the member of the input's name, or its only member), an
// IDX file of the MNIST family (gzip-compressed or not), else raw
// little-endian float32 of o.Shape per sample. The first axis of every
// array is the sample; the rest must be the graph input's (or hold as
// many elements, then it is reshaped to it, as for MNIST's (N, 28, 28)
// into a (N, 1, 28, 28) input). Values are converted to the input's
// element type as npy.Values converts.
//
// Only the headers are read here; Read streams the samples.
//
// It returns an error naming the file for one it cannot read, an input
// without a file or given twice, a spec that names no input, shapes that
// do not fit, inputs of different numbers of samples, and preprocessing
// values that do not fit the inputs.
func OpenFiles(g *graph.Graph, specs []string, o FileOptions) (*Files, error) {
	if len(specs) == 0 {
		return nil, errors.New("quantize: no data files")
	}
	byName := map[string]graph.ValueSpec{}
	for _, in := range g.Inputs {
		byName[in.Name] = in
	}
	paths := map[string]string{} // input -> path
	var whole []string           // specs for every input (archives)
	for _, spec := range specs {
		name, path, named := strings.Cut(spec, "=")
		if named {
			if _, ok := byName[name]; !ok {
				named = false // a path with '=' in it, or a bad name: see below
			}
		}
		if !named {
			path = spec
			switch {
			case len(g.Inputs) == 1:
				name = g.Inputs[0].Name
			default:
				whole = append(whole, path)
				continue
			}
		}
		if _, dup := paths[name]; dup {
			return nil, fmt.Errorf("quantize: data for input %q given twice", name)
		}
		paths[name] = path
	}
	archive := func(path string) bool {
		st, err := os.Stat(path)
		k, _ := sniff(path)
		return err == nil && (st.IsDir() || k == kindNPZ)
	}
	if len(whole) > 1 || len(whole) == 1 && (len(paths) > 0 || !archive(whole[0])) {
		return nil, fmt.Errorf("quantize: data %q: give NAME=PATH for each of the model's inputs %s, or one .npz archive (or directory of them) keyed by input name", whole, inputList(g))
	}
	d := &Files{o: o, n: -1}
	for _, in := range g.Inputs {
		path := paths[in.Name]
		if len(whole) == 1 {
			path = whole[0]
		}
		if path == "" {
			return nil, fmt.Errorf("quantize: no data for the model's input %q %v%s", in.Name, in.DType, graph.ShapeString(in.Shape))
		}
		s, err := openInput(in, path, o)
		if err != nil {
			return nil, err
		}
		if err := checkPreprocess(in, o); err != nil {
			return nil, err
		}
		rows := 0
		for _, seg := range s.segs {
			rows += seg.rows
		}
		if d.n >= 0 && rows != d.n {
			return nil, fmt.Errorf("quantize: input %q has %d samples in %s, input %q has %d", in.Name, rows, path, d.inputs[0].spec.Name, d.n)
		}
		d.n = rows
		d.inputs = append(d.inputs, s)
	}
	return d, nil
}

func inputList(g *graph.Graph) string {
	var names []string
	for _, in := range g.Inputs {
		names = append(names, fmt.Sprintf("%q", in.Name))
	}
	return "(" + strings.Join(names, ", ") + ")"
}

// openInput lists the segments of one input's data at path.
func openInput(in graph.ValueSpec, path string, o FileOptions) (*inputStream, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	files := []string{path}
	if st.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("quantize: %w", err)
		}
		files = nil
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") && e.Type().IsRegular() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		sort.Strings(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("quantize: %s: no data files in the directory", path)
		}
	}
	s := &inputStream{spec: in}
	for _, f := range files {
		seg, err := openSegment(in, f, o)
		if err != nil {
			return nil, err
		}
		s.segs = append(s.segs, seg)
	}
	return s, nil
}

// openSegment opens one file of an input's data, checks its header and
// returns how to read it.
func openSegment(in graph.ValueSpec, path string, o FileOptions) (segment, error) {
	kind, err := sniff(path)
	if err != nil {
		return segment{}, fmt.Errorf("quantize: %w", err)
	}
	var open func() (rowReader, []int, error) // the reader and the array's shape
	switch kind {
	case kindNPY:
		open = func() (rowReader, []int, error) {
			s, err := npy.OpenStream(path)
			if err != nil {
				return nil, nil, err
			}
			return npyRows{s: s}, s.Shape, nil
		}
	case kindNPZ:
		open = func() (rowReader, []int, error) {
			z, err := npy.OpenNPZ(path)
			if err != nil {
				return nil, nil, err
			}
			name := in.Name
			if names := z.Names(); len(names) == 1 {
				name = names[0]
			}
			s, err := z.Stream(name)
			if err != nil {
				z.Close()
				return nil, nil, fmt.Errorf("%s: input %q: %w", path, in.Name, err)
			}
			return npyRows{s: s, z: z}, s.Shape, nil
		}
	case kindIDX:
		open = func() (rowReader, []int, error) {
			s, err := idx.OpenStream(path)
			if err != nil {
				return nil, nil, err
			}
			return idxRows{s}, s.Shape, nil
		}
	default:
		sample := o.Shape
		if sample == nil {
			st, ok := (&graph.Info{Shape: in.Shape[min(1, len(in.Shape)):]}).Static()
			if !ok || len(in.Shape) == 0 {
				return segment{}, fmt.Errorf("quantize: %s is not a .npy, .npz or IDX file; as raw float32 it needs the shape of a sample (-shape), the input %q is %s", path, in.Name, graph.ShapeString(in.Shape))
			}
			sample = st
		}
		st, err := os.Stat(path)
		if err != nil {
			return segment{}, fmt.Errorf("quantize: %w", err)
		}
		per := int64(4)
		for _, d := range sample {
			per *= int64(max(d, 1))
		}
		if st.Size()%per != 0 {
			return segment{}, fmt.Errorf("quantize: %s: %d bytes are not a whole number of float32 samples of shape %v", path, st.Size(), sample)
		}
		shape := append([]int{int(st.Size() / per)}, sample...)
		open = func() (rowReader, []int, error) {
			s, err := npy.OpenRawStream(path, shape)
			if err != nil {
				return nil, nil, err
			}
			return npyRows{s: s}, s.Shape, nil
		}
	}
	r, shape, err := open()
	if err != nil {
		return segment{}, fmt.Errorf("quantize: %w", err)
	}
	r.close()
	if kind != kindRaw && o.Shape != nil && elements(o.Shape) != elements(shape[1:]) {
		return segment{}, fmt.Errorf("quantize: %s has samples of shape %v, not the -shape %v (which is for raw float32 files)", path, shape[1:], o.Shape)
	}
	if err := fitShape(in, shape); err != nil {
		return segment{}, fmt.Errorf("quantize: %s: %w", path, err)
	}
	return segment{path: path, rows: shape[0], open: func() (rowReader, error) {
		r, _, err := open()
		return r, err
	}}, nil
}

// fitShape checks that an array of the given shape (first axis the
// samples) can feed input in: the same known sizes after the first axis,
// or as many elements per sample as the input's static sample shape.
func fitShape(in graph.ValueSpec, shape []int) error {
	if len(in.Shape) == 0 {
		return fmt.Errorf("input %q is a scalar: it has no sample axis", in.Name)
	}
	if _, ok := sampleShape(in, shape); ok {
		return nil
	}
	if st, ok := (&graph.Info{Shape: in.Shape[1:]}).Static(); ok {
		return fmt.Errorf("input %q: samples of %d values (%v) for an input of %d per sample %s: the shapes do not fit",
			in.Name, elements(shape[1:]), shape, elements(st), graph.ShapeString(in.Shape))
	}
	return fmt.Errorf("input %q: samples of shape %v do not fit the input %s", in.Name, shape[1:], graph.ShapeString(in.Shape))
}

// sampleShape returns the shape a sample of an array of the given shape
// takes as input in, and whether it fits.
func sampleShape(in graph.ValueSpec, shape []int) ([]int, bool) {
	want := in.Shape[1:]
	if len(shape)-1 == len(want) {
		ok := true
		for i, d := range want {
			ok = ok && (!d.Known() || d.Size == shape[i+1])
		}
		if ok {
			return shape[1:], true
		}
	}
	st, ok := (&graph.Info{Shape: want}).Static()
	if !ok {
		return nil, false
	}
	return st, elements(st) == elements(shape[1:])
}

// elements returns the number of elements of an array of shape s.
func elements(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// checkPreprocess checks Scale and Shift against input in.
func checkPreprocess(in graph.ValueSpec, o FileOptions) error {
	if o.Scale == nil && o.Shift == nil {
		return nil
	}
	if in.DType != onnx.Float {
		return fmt.Errorf("quantize: preprocessing is for FLOAT inputs, %q is %v", in.Name, in.DType)
	}
	for _, v := range [][]float32{o.Scale, o.Shift} {
		if len(v) > 1 && (len(in.Shape) < 2 || !in.Shape[1].Known() || in.Shape[1].Size != len(v)) {
			return fmt.Errorf("quantize: %d preprocessing values per channel, the input %q %s has not that many channels (axis 1)", len(v), in.Name, graph.ShapeString(in.Shape))
		}
	}
	return nil
}

// Len returns the number of samples.
func (d *Files) Len() int { return d.n }

// Read returns samples [lo, hi) of every input (see Data; hi > lo). Reading
// forward streams; reading an earlier sample than the last read starts
// the files again. It returns an error naming the file for data that
// cannot be read or converted.
func (d *Files) Read(lo, hi int) (map[string]*graph.Tensor, error) {
	if lo < 0 || hi > d.n || lo >= hi {
		return nil, fmt.Errorf("quantize: samples [%d, %d) of %d", lo, hi, d.n)
	}
	out := make(map[string]*graph.Tensor, len(d.inputs))
	for _, s := range d.inputs {
		t, err := s.read(lo, hi)
		if err != nil {
			return nil, err
		}
		preprocess(t, d.o)
		out[s.spec.Name] = t
	}
	return out, nil
}

// Close closes the files being read.
func (d *Files) Close() error {
	var err error
	for _, s := range d.inputs {
		err = errors.Join(err, s.reset())
	}
	return err
}

// reset closes the file being read and goes back to the first sample.
func (s *inputStream) reset() error {
	var err error
	if s.cur != nil {
		err = s.cur.close()
	}
	s.cur, s.seg, s.segRead, s.pos = nil, 0, 0, 0
	return err
}

// read returns samples [lo, hi) of the input, converted to its type and
// shape.
func (s *inputStream) read(lo, hi int) (*graph.Tensor, error) {
	if lo < s.pos {
		if err := s.reset(); err != nil {
			return nil, err
		}
	}
	var parts []*npy.Array
	for s.pos < hi {
		if s.cur == nil {
			r, err := s.segs[s.seg].open()
			if err != nil {
				return nil, fmt.Errorf("quantize: %w", err)
			}
			s.cur, s.segRead = r, 0
		}
		seg := s.segs[s.seg]
		left := seg.rows - s.segRead
		if s.pos < lo {
			k := min(left, lo-s.pos)
			if err := s.cur.skip(k); err != nil {
				return nil, fmt.Errorf("quantize: %s: %w", seg.path, err)
			}
			s.segRead += k
			s.pos += k
		} else {
			k := min(left, hi-s.pos)
			a, err := s.cur.next(k)
			if err != nil {
				return nil, fmt.Errorf("quantize: %s: %w", seg.path, err)
			}
			parts = append(parts, a)
			s.segRead += k
			s.pos += k
		}
		if s.segRead == seg.rows {
			err := s.cur.close()
			s.cur = nil
			s.seg++
			if err != nil {
				return nil, fmt.Errorf("quantize: %s: %w", seg.path, err)
			}
		}
	}
	var t *graph.Tensor
	for _, a := range parts {
		shape, _ := sampleShape(s.spec, a.Shape)
		a.Shape = append([]int{a.Shape[0]}, shape...)
		x, err := FromArray(a, s.spec.DType)
		if err != nil {
			return nil, fmt.Errorf("quantize: input %q, samples %d to %d: %w", s.spec.Name, lo, hi-1, err)
		}
		if t == nil {
			t = x
		} else {
			t = concat(t, x)
		}
	}
	return t, nil
}

// concat joins two tensors of one type along the first axis.
func concat(a, b *graph.Tensor) *graph.Tensor {
	t := &graph.Tensor{DType: a.DType, Shape: append([]int{a.Shape[0] + b.Shape[0]}, a.Shape[1:]...)}
	t.F32 = append(slices.Clip(a.F32), b.F32...)
	t.F64 = append(slices.Clip(a.F64), b.F64...)
	t.I64 = append(slices.Clip(a.I64), b.I64...)
	t.I32 = append(slices.Clip(a.I32), b.I32...)
	t.I8 = append(slices.Clip(a.I8), b.I8...)
	t.U8 = append(slices.Clip(a.U8), b.U8...)
	return t
}

// preprocess applies Scale and Shift to a FLOAT tensor in place.
func preprocess(t *graph.Tensor, o FileOptions) {
	if t.DType != onnx.Float || o.Scale == nil && o.Shift == nil {
		return
	}
	ch, inner := 1, len(t.F32)
	if len(t.Shape) >= 2 && t.Shape[0] > 0 {
		ch = t.Shape[1]
		inner = len(t.F32) / t.Shape[0] / max(1, ch)
	}
	at := func(v []float32, c int, def float32) float32 {
		switch len(v) {
		case 0:
			return def
		case 1:
			return v[0]
		}
		return v[c]
	}
	for i := range t.F32 {
		c := i / max(1, inner) % max(1, ch)
		t.F32[i] = t.F32[i]*at(o.Scale, c, 1) + at(o.Shift, c, 0)
	}
}

// FromArray converts a .npy array to a graph tensor of element type dt,
// as npy.Values converts (integers to floats; floats refused as
// integers; values that do not fit refused): how data files feed a
// graph's inputs. It returns npy.Values' errors and an error for an
// element type no .npy file holds.
func FromArray(a *npy.Array, dt onnx.DataType) (*graph.Tensor, error) {
	t := &graph.Tensor{DType: dt, Shape: a.Shape}
	var err error
	switch dt {
	case onnx.Float:
		t.F32, err = npy.Values[float32](a)
	case onnx.Double:
		t.F64, err = npy.Values[float64](a)
	case onnx.Int64:
		t.I64, err = npy.Values[int64](a)
	case onnx.Int32:
		t.I32, err = npy.Values[int32](a)
	case onnx.Int8:
		t.I8, err = npy.Values[int8](a)
	case onnx.Uint8:
		t.U8, err = npy.Values[uint8](a)
	case onnx.Bool:
		var b []bool
		if b, err = npy.Values[bool](a); err == nil {
			t.U8 = make([]uint8, len(b))
			for i, v := range b {
				if v {
					t.U8[i] = 1
				}
			}
		}
	default:
		return nil, fmt.Errorf("the model wants %v, which a .npy file does not hold", dt)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}
