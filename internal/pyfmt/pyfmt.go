// Package pyfmt formats float32 values and arrays the way NumPy 1.24 prints
// them (str of an np.float32 and of an ndarray), so that descriptors and
// quantizers can describe themselves in the words of the original toolkit.
package pyfmt

import (
	"math"
	"strconv"
	"strings"
)

// Scalar returns str(np.float32(v)): the shortest repr that round-trips,
// positional for 1e-4 <= |v| < 1e16 (and for 0) with at least one fractional
// digit, scientific otherwise ("1e-09", "3.4028235e+38").
func Scalar(v float32) string { return repr(float64(v), 32) }

// Float returns Python's repr of the float (a float64) v, by the same rule
// as Scalar with float64 digits.
func Float(v float64) string { return repr(v, 64) }

// Fixed returns Python's format(v, ".<prec>f"): prec digits after the
// point, "nan", "inf" or "-inf".
func Fixed(v float64, prec int) string {
	if s, ok := nonFinite(v); ok {
		return s
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func repr(v float64, bitSize int) string {
	if s, ok := nonFinite(v); ok {
		return s
	}
	if a := math.Abs(v); a == 0 || (a >= 1e-4 && a < 1e16) {
		s := strconv.FormatFloat(v, 'f', -1, bitSize)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	return strconv.FormatFloat(v, 'e', -1, bitSize)
}

// nonFinite spells NaN and the infinities as Python does.
func nonFinite(v float64) (string, bool) {
	switch {
	case v != v:
		return "nan", true
	case math.IsInf(v, 1):
		return "inf", true
	case math.IsInf(v, -1):
		return "-inf", true
	}
	return "", false
}

const (
	lineWidth = 75   // np.get_printoptions()['linewidth']
	precision = 8    // np.get_printoptions()['precision']
	threshold = 1000 // arrays larger than this are summarised
	edgeItems = 3
)

// Array returns str(a) for a float32 ndarray of the given shape holding data
// in row-major order. A 0-d array (empty shape) prints as Scalar.
func Array(shape []int, data []float32) string {
	if len(shape) == 0 {
		return Scalar(data[0])
	}
	summary := len(data) > threshold
	f := newFloatFormat(shownValues(shape, data, summary))
	p := printer{shape: shape, data: data, format: f.format, summary: summary}
	return p.recurse(nil, " ", lineWidth)
}

// shownValues returns the elements that will be printed (all of them, or
// the leading and trailing edge items of every axis when summarising); the
// float format is fitted to these only, as NumPy does.
func shownValues(shape []int, data []float32, summary bool) []float32 {
	if !summary {
		return data
	}
	var out []float32
	strides := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		strides[i] = acc
		acc *= shape[i]
	}
	var walk func(axis, off int)
	walk = func(axis, off int) {
		if axis == len(shape) {
			out = append(out, data[off])
			return
		}
		for _, i := range edgeIndices(shape[axis], true) {
			walk(axis+1, off+i*strides[axis])
		}
	}
	walk(0, 0)
	return out
}

// edgeIndices lists the indices printed along an axis of length n.
func edgeIndices(n int, summary bool) []int {
	var idx []int
	if summary && n > 2*edgeItems {
		for i := range edgeItems {
			idx = append(idx, i)
		}
		for i := n - edgeItems; i < n; i++ {
			idx = append(idx, i)
		}
		return idx
	}
	for i := range n {
		idx = append(idx, i)
	}
	return idx
}

// floatFormat is NumPy's FloatingFormat for floatmode "maxprec", sign "-".
type floatFormat struct {
	exp                bool
	padLeft, padRight  int
	expDigits, fracMin int
}

func newFloatFormat(vals []float32) floatFormat {
	var f floatFormat
	var finite []float32
	minNZ, maxNZ := math.Inf(1), 0.0
	for _, v := range vals {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			continue
		}
		finite = append(finite, v)
		if a := math.Abs(float64(v)); a != 0 {
			minNZ, maxNZ = math.Min(minNZ, a), math.Max(maxNZ, a)
		}
	}
	if maxNZ != 0 && (maxNZ >= 1e8 || minNZ < 1e-4 || maxNZ/minNZ > 1000) {
		f.exp = true
	}
	switch {
	case len(finite) == 0:
	case f.exp:
		for _, v := range finite {
			mant, exp := sciParts(v)
			ip, fp, _ := strings.Cut(mant, ".")
			f.padLeft = max(f.padLeft, len(ip))
			f.fracMin = max(f.fracMin, len(fp))
			f.expDigits = max(f.expDigits, len(exp)-1)
		}
		f.padRight = f.expDigits + 2 + f.fracMin
	default:
		for _, v := range finite {
			ip, fp, _ := strings.Cut(positional(v), ".")
			f.padLeft = max(f.padLeft, len(ip))
			f.padRight = max(f.padRight, len(fp))
		}
	}
	if len(finite) != len(vals) {
		neg := 0
		for _, v := range vals {
			if math.IsInf(float64(v), -1) {
				neg = 1
			}
		}
		off := f.padRight + 1
		f.padLeft = max(f.padLeft, 3-off, 3+neg-off)
	}
	return f
}

// positional is dragon4_positional(unique, precision=8, trim='.'): the
// shortest round-trip digits, at most 8 of them after the point, keeping the
// point ("1.", "0.33333334").
func positional(v float32) string {
	s := strconv.FormatFloat(float64(v), 'f', -1, 32)
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 > precision {
		s = strings.TrimRight(strconv.FormatFloat(float64(v), 'f', precision, 32), "0")
	}
	if !strings.Contains(s, ".") {
		s += "."
	}
	return s
}

// sciParts is dragon4_scientific(unique, trim='.') split into the mantissa
// (with its point, "1." or "1.2345678") and the exponent ("+04").
func sciParts(v float32) (mant, exp string) {
	s := strconv.FormatFloat(float64(v), 'e', -1, 32)
	mant, exp, _ = strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += "."
	}
	return mant, exp
}

func (f floatFormat) format(v float32) string {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		r := "nan"
		if math.IsInf(float64(v), 1) {
			r = "inf"
		} else if math.IsInf(float64(v), -1) {
			r = "-inf"
		}
		return strings.Repeat(" ", max(0, f.padLeft+f.padRight+1-len(r))) + r
	}
	if f.exp {
		mant, exp := sciParts(v)
		ip, fp, _ := strings.Cut(mant, ".")
		fp += strings.Repeat("0", f.fracMin-len(fp))
		digits := strings.TrimLeft(exp[1:], "0")
		digits = strings.Repeat("0", max(0, f.expDigits-len(digits))) + digits
		return strings.Repeat(" ", f.padLeft-len(ip)) + ip + "." + fp + "e" + exp[:1] + digits
	}
	ip, fp, _ := strings.Cut(positional(v), ".")
	return strings.Repeat(" ", f.padLeft-len(ip)) + ip + "." + fp + strings.Repeat(" ", f.padRight-len(fp))
}

// printer is NumPy's _formatArray with separator ' ' and no prefix.
type printer struct {
	shape   []int
	data    []float32
	format  func(float32) string
	summary bool
}

func (p printer) recurse(index []int, hanging string, width int) string {
	axis := len(index)
	if axis == len(p.shape) {
		off := 0
		for i, ix := range index {
			off = off*p.shape[i] + ix
		}
		return p.format(p.data[off])
	}
	nextHanging, nextWidth := hanging+" ", width-1
	idx := edgeIndices(p.shape[axis], p.summary)
	summarised := len(idx) < p.shape[axis]
	var s strings.Builder
	if len(p.shape)-axis == 1 {
		elemWidth := width - 1
		line := hanging
		for k, i := range idx {
			if summarised && k == edgeItems {
				line = extendLine(&s, line, "...", elemWidth, hanging) + " "
			}
			word := p.recurse(append(index, i), nextHanging, nextWidth)
			line = extendLine(&s, line, word, elemWidth, hanging)
			if k < len(idx)-1 {
				line += " "
			}
		}
		s.WriteString(line)
	} else {
		sep := strings.Repeat("\n", len(p.shape)-axis-1)
		for k, i := range idx {
			if summarised && k == edgeItems {
				s.WriteString(hanging + "..." + sep)
			}
			s.WriteString(hanging + p.recurse(append(index, i), nextHanging, nextWidth))
			if k < len(idx)-1 {
				s.WriteString(sep)
			}
		}
	}
	return "[" + s.String()[len(hanging):] + "]"
}

// extendLine is NumPy's _extendLine: it appends word to line, first moving
// line into s when the word would overflow the width.
func extendLine(s *strings.Builder, line, word string, width int, hanging string) string {
	if len(line)+len(word) > width && len(line) > len(hanging) {
		s.WriteString(strings.TrimRight(line, " ") + "\n")
		line = hanging
	}
	return line + word
}
