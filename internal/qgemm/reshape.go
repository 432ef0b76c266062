package qgemm

// ForShape returns the weights cw packed for the convolution c, which may
// differ from cw's shape in its batch, input size, strides, vertical
// dilation and padding but not in what packing depends on: channels,
// kernel size, groups and horizontal dilation. The packed data is shared,
// not copied. It returns an error wrapping ErrShape when c is invalid or
// differs from cw's shape in channels, kernel, groups or horizontal
// dilation.
func (cw *ConvWeights) ForShape(c Conv) (*ConvWeights, error) {
	c = c.normal()
	if err := c.check(); err != nil {
		return nil, err
	}
	p := cw.shape
	// The packing depends on the horizontal dilation too (a pointer per
	// kernel row only for 1).
	if c.InC != p.InC || c.OutC != p.OutC || c.KH != p.KH || c.KW != p.KW || c.Groups != p.Groups || c.DilationW != p.DilationW {
		return nil, shapeErr("convolution %d→%d channels, kernel %d×%d, %d groups, horizontal dilation %d: the weights were packed for %d→%d, %d×%d, %d groups, dilation %d",
			c.InC, c.OutC, c.KH, c.KW, c.Groups, c.DilationW, p.InC, p.OutC, p.KH, p.KW, p.Groups, p.DilationW)
	}
	return &ConvWeights{shape: c, groups: cw.groups, dw: cw.dw, inC: cw.inC}, nil
}
