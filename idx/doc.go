// Package idx reads and writes IDX files, the format of the MNIST family of
// data sets (MNIST, Fashion-MNIST, Kuzushiji-MNIST, EMNIST): a magic number
// giving the element type and the number of dimensions, the dimensions as
// big-endian uint32, then the elements, big-endian, row-major. The
// distributed files are gzip-compressed; Read detects that itself. A
// Stream (NewStream, OpenStream) reads a file a few rows at a time, for
// data sets read batch by batch.
//
//	tensor -> ... -> calibrators -> layers -> onnx        (the pipeline)
//	idx, npy: data files in, beside the pipeline (they import tensor only)
//
// It serves `tensorquant quantize -calib` (calibration images in the form
// users have them) and the Fashion-MNIST tables. The reader is hardened for
// untrusted files: it never allocates more than the bytes that actually
// arrived (after decompression) could fill, and every malformed file is an
// error wrapping ErrFormat that says what is wrong; it never panics.
package idx
