package qgemm

import "unsafe"

// convSource is the rows of a convolution's implicit im2col matrix for
// one group: row r is output pixel r (batch, then height, then width), and
// its pointer t points at the group's channels of the input pixel that
// tap t reads in the padded input, or, for weights packed with a pointer
// per kernel row (PackConv), at the first pixel of kernel row t.
type convSource struct {
	in      *padded
	ohw, ow int
	sh, sw  int
	chan0   int
	ptrPix  []int   // pixel offset of each pointer from the window's origin
	tapPix  []int   // pixel offset of each tap from the window's origin
	pixSum  []int32 // Σ κ over the group's channels, per padded pixel (when the weights have zero points)
}

func newConvSource(in *padded, c Conv, g int, w *Weights) *convSource {
	cg := c.InC / c.Groups
	s := &convSource{in: in, ohw: c.OutH() * c.OutW(), ow: c.OutW(), sh: c.StrideH, sw: c.StrideW, chan0: g * cg}
	s.setTaps(c, w.taps != c.KH*c.KW)
	if w.zp != nil {
		s.pixSum = make([]int32, in.pixels)
		es := in.geo.es()
		for p := range s.pixSum {
			s.pixSum[p] = in.geo.sum(in.x[(p*in.c+s.chan0)*es:], cg)
		}
	}
	return s
}

// setTaps sets the taps' offsets, and the pointers': the taps', or
// with perRow the kernel rows' first taps'.
func (s *convSource) setTaps(c Conv, perRow bool) {
	for i := range c.KH {
		for j := range c.KW {
			s.tapPix = append(s.tapPix, i*c.DilationH*s.in.wp+j*c.DilationW)
		}
	}
	s.ptrPix = s.tapPix
	if perRow {
		s.ptrPix = nil
		for i := range c.KH {
			s.ptrPix = append(s.ptrPix, i*c.DilationH*s.in.wp)
		}
	}
}

// origin returns the padded pixel at the top left of row r's window.
func (s *convSource) origin(r int) int {
	n, rem := r/s.ohw, r%s.ohw
	y, x := rem/s.ow, rem%s.ow
	return (n*s.in.hp+y*s.sh)*s.in.wp + x*s.sw
}

func (s *convSource) fill(ind []unsafe.Pointer, r0, rows, mr int) {
	// The windows' origins step along the output rows: one division for
	// the first, then increments (a division per row cost more than the
	// pointers of a 1×1 convolution's products).
	n, rem := r0/s.ohw, r0%s.ohw
	y, x := rem/s.ow, rem%s.ow
	base, step := unsafe.Pointer(unsafe.SliceData(s.in.x)), s.in.c*s.in.es
	_ = s.in.x[(s.origin(r0+rows-1)+s.tapPix[len(s.tapPix)-1]+1)*step-1] // the last tap's pixel is in x
	var o int
	for r := range mr {
		if r < rows {
			o = (n*s.in.hp+y*s.sh)*s.in.wp + x*s.sw
			if x++; x == s.ow {
				x = 0
				if y++; y*s.ow == s.ohw {
					y, n = 0, n+1
				}
			}
		}
		for t, d := range s.ptrPix {
			ind[t*mr+r] = unsafe.Add(base, (o+d)*step+s.chan0*s.in.es)
		}
	}
}

func (s *convSource) sums(rho []int32, r0, rows int) {
	for r := range rows {
		o := s.origin(r0 + r)
		var sum int32
		for _, d := range s.tapPix {
			sum += s.pixSum[o+d]
		}
		rho[r] = sum
	}
}
