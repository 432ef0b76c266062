package npy

import (
	"archive/zip"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tensorquant/tensorquant/internal/atomicfile"
)

// maxDeflateRatio is the largest factor by which deflate can expand its
// input (a 258-byte match per two bits): the bound a member's declared
// size must respect.
const maxDeflateRatio = 1032

// ReadNPZ reads the arrays of a .npz archive (what np.savez and
// np.savez_compressed write: a zip of .npy members, stored or deflated),
// keyed by member name without ".npy", as np.load names them. size is the
// archive's length in bytes.
//
// It is written for untrusted archives. Every member must be a .npy file
// with a valid name (see ValidName), stored or deflated, unencrypted,
// whose data lies inside the archive without overlapping another member's;
// a name may appear once. A member's declared size must be one deflate
// could produce from its compressed bytes (at most 1032 times as many),
// must match what its .npy header describes, and bounds what is read: the
// inflated bytes are counted, and a member that inflates to more or fewer
// bytes than it declares, or fails its CRC-32, is an error. So the arrays
// never take more than 1032 bytes per archive byte, and memory grows only
// with bytes that actually arrive.
//
// Errors wrap ErrFormat, except those of r; they name the member.
func ReadNPZ(r io.ReaderAt, size int64) (map[string]*Array, error) {
	members, err := npzMembers(r, size)
	if err != nil {
		return nil, err
	}
	arrays := make(map[string]*Array, len(members))
	for name, f := range members {
		a, err := readMember(f)
		if err != nil {
			return nil, fmt.Errorf("member %q: %w", f.Name, err)
		}
		arrays[name] = a
	}
	return arrays, nil
}

// npzMembers checks the members of a .npz archive of size bytes (see
// ReadNPZ) and returns them by array name.
func npzMembers(r io.ReaderAt, size int64) (map[string]*zip.File, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // names are checked below
		return nil, fmt.Errorf("%w: not a .npz archive: %v", ErrFormat, err)
	}
	type span struct {
		name     string
		from, to int64
	}
	spans := make([]span, 0, len(zr.File))
	members := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		name, ok := strings.CutSuffix(f.Name, ".npy")
		if !ok || ValidName(name) != nil {
			return nil, fmt.Errorf("%w: member %q is not NAME.npy with a valid NAME", ErrFormat, f.Name)
		}
		if members[name] != nil {
			return nil, fmt.Errorf("%w: member %q appears twice", ErrFormat, f.Name)
		}
		members[name] = f
		if f.Flags&1 != 0 {
			return nil, fmt.Errorf("%w: member %q is encrypted", ErrFormat, f.Name)
		}
		switch f.Method {
		case zip.Store:
			if f.UncompressedSize64 != f.CompressedSize64 {
				return nil, fmt.Errorf("%w: stored member %q declares %d bytes in %d", ErrFormat, f.Name, f.UncompressedSize64, f.CompressedSize64)
			}
		case zip.Deflate:
			if f.UncompressedSize64/maxDeflateRatio > f.CompressedSize64 || f.UncompressedSize64 > math.MaxInt64 {
				return nil, fmt.Errorf("%w: member %q declares %d bytes, more than deflate makes of %d", ErrFormat, f.Name, f.UncompressedSize64, f.CompressedSize64)
			}
		default:
			return nil, fmt.Errorf("%w: member %q uses compression method %d, not stored (0) or deflate (8)", ErrFormat, f.Name, f.Method)
		}
		off, err := f.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("%w: member %q: %v", ErrFormat, f.Name, err)
		}
		if off < 0 || f.CompressedSize64 > uint64(size-off) {
			return nil, fmt.Errorf("%w: member %q: %d bytes at offset %d run past the archive's %d", ErrFormat, f.Name, f.CompressedSize64, off, size)
		}
		spans = append(spans, span{f.Name, off, off + int64(f.CompressedSize64)})
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.from, b.from) })
	for i := 1; i < len(spans); i++ {
		if spans[i].from < spans[i-1].to {
			return nil, fmt.Errorf("%w: members %q and %q overlap", ErrFormat, spans[i-1].name, spans[i].name)
		}
	}
	return members, nil
}

// readMember reads the .npy array of one member, which must inflate to
// exactly its declared size (archive/zip checks the CRC-32 at the end).
func readMember(f *zip.File) (*Array, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	defer rc.Close()
	lr := &io.LimitedReader{R: rc, N: int64(f.UncompressedSize64)}
	a, err := readArray(lr, int64(f.UncompressedSize64), false)
	if err != nil {
		return nil, err
	}
	return a, memberEnd(rc)
}

// memberEnd checks that an opened member ends after its array:
// archive/zip verifies its size and CRC-32 when it reports the end.
func memberEnd(rc io.Reader) error {
	if n, err := rc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("data continues after the array")
		}
		return fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return nil
}

// ReadNPZFile reads the arrays of the .npz archive in path (see ReadNPZ).
// It returns an error for a path that is not a regular file, and ReadNPZ's
// errors prefixed with the path.
func ReadNPZFile(path string) (map[string]*Array, error) {
	f, st, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	arrays, err := ReadNPZ(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return arrays, nil
}

// ValidName returns an error unless name can key an array of a .npz
// archive (without ".npy"): non-empty, at most 1024 bytes of UTF-8 without
// control characters or backslashes, not starting with '/', and without
// empty, "." or ".." components between slashes. PyTorch's state_dict names
// ("features.0.weight") are valid.
func ValidName(name string) error {
	bad := func(why string) error { return fmt.Errorf("npy: array name %q %s", name, why) }
	switch {
	case name == "":
		return bad("is empty")
	case len(name) > 1024:
		return bad("is longer than 1024 bytes")
	case !utf8.ValidString(name):
		return bad("is not UTF-8")
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == '\\' }):
		return bad("holds a control character or a backslash")
	}
	for part := range strings.SplitSeq(name, "/") {
		if part == "" || part == "." || part == ".." {
			return bad(`has an empty, "." or ".." path component`)
		}
	}
	return nil
}

// WriteNPZ writes arrays as a .npz archive that np.load reads: one member
// NAME.npy per array (see WriteArray), in the order of the names, deflated
// when compress is set (as np.savez_compressed does) and stored otherwise
// (np.savez). It returns an error for an invalid name (see ValidName) or
// array, and the writer's errors.
func WriteNPZ(w io.Writer, arrays map[string]*Array, compress bool) error {
	names := make([]string, 0, len(arrays))
	for name, a := range arrays {
		if err := ValidName(name); err != nil {
			return err
		}
		if err := a.check(); err != nil {
			return fmt.Errorf("array %q: %w", name, err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	zw := zip.NewWriter(w)
	method := zip.Store
	if compress {
		method = zip.Deflate
	}
	var buf bytes.Buffer
	for _, name := range names {
		buf.Reset()
		if err := WriteArray(&buf, arrays[name]); err != nil {
			return err
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: method})
		if err != nil {
			return err
		}
		if _, err := fw.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return zw.Close()
}

// WriteNPZFile writes arrays to path atomically as a .npz archive (see
// WriteNPZ and internal/atomicfile).
func WriteNPZFile(path string, arrays map[string]*Array, compress bool) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error { return WriteNPZ(w, arrays, compress) })
}
