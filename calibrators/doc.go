// Package calibrators finds the amax (the clipping range) that quantization
// scales are built from, by watching calibration batches: the original
// pytorch_quantization's MaxCalibrator (Max), HistogramCalibrator
// (Histogram, with the "entropy", "percentile" and "mse" searches) and
// calibrate_weights (CalibrateWeight), with the same numbers bit for bit.
//
// Max and Histogram satisfy Calibrator, the interface a quantizer drives:
// Collect batches, then Amax(method, AmaxOptions). Histogram.ComputeAmax
// never changes the collected histogram, and Amax never returns a NaN
// amax: where the original would quantize with NaN, it returns ErrNaNAmax.
// Before the first batch every method returns ErrNoData.
//
// # Calibrating in parallel
//
// A calibrator is not safe for concurrent use, and the histogram of a
// batch depends on the bins that earlier batches made. To split a
// calibration run over goroutines or processes:
//
//  1. Collect a first batch into one calibrator, the seed. It fixes the bin
//     width; make it representative of the range (a larger batch, or the
//     one with the largest values).
//  2. Give each shard seed.Fork() (same bins, no counts): in another
//     process, send the seed's MarshalBinary, restore it with Unmarshal and
//     Fork it there.
//  3. Collect each shard's batches into its fork.
//  4. Merge every fork into the seed (for processes, send each fork's
//     MarshalBinary and Unmarshal it first).
//
// The merged calibrator's counts then equal what collecting the seed's
// batch and then every shard's batches into one calibrator gives, exactly,
// as long as no shard grows the histogram beyond the seed's range; with
// growth, only elements within a rounding error of a bin edge can land in
// the neighbouring bin (see histogram.Histogram.Merge). Max calibrators
// merge with an element-wise max and need no seed.
//
// Set does this for the command line's calibration sets (a histogram and a
// max calibrator fed the same batches, as tensorquant calibrate collects):
// Fork, Save, LoadSet and MergeFiles, which refuses a shard merged twice.
//
// # Saved state
//
// MarshalBinary writes a small versioned binary format (documented in
// state.go): the options, the counts and the edges, or the amax and its
// history; Set.MarshalBinary (and Save, a .tqcal file) adds the value
// count and the shard ids around two of them. Both use tensorquant's one
// file framing: a magic number, a format version, the length and a CRC-32C
// checksum over everything, so that any changed bit is refused, and a file
// from an older tensorquant (version 1, without the checksum) is refused
// with a message that says how to write it again. UnmarshalBinary,
// Unmarshal and LoadSet check everything before they allocate, and reject
// a state that no collection could have produced. LoadSet reads only
// regular files, and checks the header before it reads the rest.
//
// # Differences from the original
//
//   - A batch with NaN or infinite elements is an error for Histogram (the
//     original fails on a first batch, and silently drops the negative
//     values of a later one).
//   - Histogram.ComputeAmax is pure; the original's entropy search writes
//     bins[0] = bins[1] into the stored NumPy-path histogram.
//   - Max.Amaxs records every batch's own amax; in the original the first
//     entry aliases the running amax (a NumPy view of a tensor updated in
//     place), so it shows the final amax.
//   - Growth past histogram.MaxBins bins, and options the original would
//     accept but fail on later (an axis for Histogram, start_bin 0 for
//     entropy), are errors up front.
//   - Hostile histograms meet work limits in "mse" (MSEExactLimit,
//     MSERankLimit; see Histogram.ComputeAmax): past the first, the
//     smallest float64 objective picks among the candidates within float32
//     rounding of the minimum; past the second, an error.
//   - Beyond the original, "mse" can search with an FP8 format
//     (AmaxOptions.FP8) instead of the integer one.
//   - Options are Go zero values: HistogramOptions{} is the original's
//     default (NumpyHist selects torch_hist=False); AmaxOptions{} selects
//     the defaults, and a nil StartBin or Percentile is the default (0 is
//     a value of both).
package calibrators
