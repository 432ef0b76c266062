// Package npy reads and writes NumPy's .npy files and .npz archives: the
// format NumPy and PyTorch users already keep weights, calibration data and
// labels in.
//
// It holds the calibration data of the command line and the state dicts
// that layers.LoadStateDict loads.
//
// An Array is one n-dimensional array of float32, float64, int64, int32,
// int8, uint8 or bool, with its shape; New builds one from a Go slice and
// Values returns its elements as any of those types (converting where the
// values allow). ReadArray and WriteArray read and write one .npy file
// (any byte order and, on read, Fortran order); ReadNPZ and WriteNPZ a .npz
// archive of named arrays, stored (np.savez) or deflated
// (np.savez_compressed). Read, Write, ReadFile and WriteFile are the
// float32 conveniences that move a tensor.Tensor, and ReadRawFile reads a
// file of bare float32 values. A Stream reads an array along its first
// axis a few rows at a time (a .npy file: OpenStream; a .npz member:
// OpenNPZ and NPZ.Stream; raw float32: OpenRawStream), so that a data set
// is read batch by batch in constant memory.
//
// Every reader is written for untrusted input: a malformed file gives an
// error wrapping ErrFormat that says what is wrong, never a panic; sizes
// are computed with overflow checks; memory grows with the bytes that
// arrive, never with what a header or an archive directory promises; and a
// .npz archive is checked for the tricks of zip bombs (see ReadNPZ).
// Writers write files atomically.
package npy
