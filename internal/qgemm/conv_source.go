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
	ptrOff  []int   // byte offset of each pointer from the window's origin
	tapPix  []int   // pixel offset of each tap from the window's origin
	pixSum  []int32 // Σ κ over the group's channels, per padded pixel (when the weights have zero points)
}

func newConvSource(in *padded, c Conv, g int, w *Weights) *convSource {
	cg := in.c / c.Groups // with the zero point's channels (quadChannels)
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
	s.tapPix = make([]int, 0, c.KH*c.KW)
	for i := range c.KH {
		for j := range c.KW {
			s.tapPix = append(s.tapPix, i*c.DilationH*s.in.wp+j*c.DilationW)
		}
	}
	ptrPix := s.tapPix
	if perRow {
		ptrPix = make([]int, 0, c.KH)
		for i := range c.KH {
			ptrPix = append(ptrPix, i*c.DilationH*s.in.wp)
		}
	}
	s.ptrOff = make([]int, len(ptrPix))
	for i, d := range ptrPix {
		s.ptrOff[i] = d * s.in.c * s.in.es
	}
}

// origin returns the padded pixel at the top left of row r's window.
func (s *convSource) origin(r int) int {
	n, rem := r/s.ohw, r%s.ohw
	y, x := rem/s.ow, rem%s.ow
	return (n*s.in.hp+y*s.sh)*s.in.wp + x*s.sw
}

func (s *convSource) fill(ind []unsafe.Pointer, r0, rows, mr int) {
	// The windows' origins step along the output rows: divisions for the
	// first, then increments (a division per row, or per tile, cost
	// more than the pointers of a 1×1 convolution's products).
	ow, oh := s.ow, s.ohw/s.ow
	step := s.in.c * s.in.es
	_ = s.in.x[(s.origin(r0+rows-1)+s.tapPix[len(s.tapPix)-1]+1)*step-1] // the last tap's pixel is in x
	n, rem := r0/s.ohw, r0%s.ohw
	y, x := rem/ow, rem%ow
	// row is the window origin of output pixel (n, y, 0), pixel x's is
	// row + x·dx; next steps row to the next output row, next + wrap
	// from an image's last output row to the next image's first.
	dx, next := s.sw*step, s.sh*s.in.wp*step
	wrap := (s.in.hp - oh*s.sh) * s.in.wp * step
	row := unsafe.Add(unsafe.Pointer(unsafe.SliceData(s.in.x)), ((n*s.in.hp+y*s.sh)*s.in.wp)*step+s.chan0*s.in.es)
	off := s.ptrOff
	per := len(off) * mr
	var p unsafe.Pointer
	for t, i := 0, 0; i < rows; t++ {
		tile := ind[t*per : (t+1)*per]
		for r := range mr {
			if i < rows {
				if x == ow { // (not after the last row: row stays in x)
					x, y = 0, y+1
					if y < oh {
						row = unsafe.Add(row, next)
					} else {
						y, row = 0, unsafe.Add(row, next+wrap)
					}
				}
				p = unsafe.Add(row, x*dx)
				x, i = x+1, i+1
			}
			for k, d := range off {
				tile[k*mr+r] = unsafe.Add(p, d)
			}
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
