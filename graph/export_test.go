package graph

// ForceInt8 makes the int8 pass run every convolution it can in integer
// arithmetic, those too small to pay included, until restore is called:
// the tests that check the integer path on small layers use it.
func ForceInt8() (restore func()) {
	old := minInt8Depth
	minInt8Depth = 0
	return func() { minInt8Depth = old }
}

// SplitsBatch reports whether t may split a step's batch into chunks that
// run at once (split.go).
func (t *Trainer) SplitsBatch() bool { return t.batch != "" }
