// Package histogram collects the histogram of |x| that calibration searches
// for an amax in: the original HistogramCalibrator's binning, range growth
// and bin edges, bit for bit, on both of its paths (torch.histc, the
// default, and np.histogram).
//
// Histogram is the growing histogram (Collect, Merge, Fork, State and
// Restore); HistcAbs is torch.histc's binning rule over |x|, the hot loop of
// calibration, with SIMD kernels for amd64 (AVX2, AVX-512) and arm64 (NEON)
// that spread consecutive elements over several sub-histograms; the pure-Go
// kernel is the specification they are tested against. NumpyHistogram is
// np.histogram with a range, as calibrate_weights uses it.
//
// The exact rules (FORMAT.md, "Observed semantics"):
//
//   - torch path: the first batch gives histc(|x|, bins, 0, max|x|) and
//     edges torch.linspace(0, max|x|, bins+1); a later batch with max|x|
//     beyond the last edge keeps the width w = edges[1]-edges[0] and sets
//     bins = ceil(max|x|/w) and edges = torch.arange(0, max|x|+w, w); every
//     later batch is binned with histc(|x|, bins, 0, edges[-1]) and the old
//     counts are added in float32.
//   - NumPy path: the first batch is np.histogram(|x|, bins) over
//     [min|x|, max|x|] with float32 edges; growth appends
//     np.arange(edges[-1]+w, max|x|+w, w) and the edges become float64;
//     later batches are binned against the edges.
//
// The amax searches over these histograms live in package calibrators.
package histogram
