package qgemm

// ForShape returns the weights cw packed for the convolution c, which may
// differ from cw's shape in its batch, input size, strides, dilations and
// padding but not in what packing depends on: channels, kernel size and
// groups. The packed data is shared, not copied. It returns an error
// wrapping ErrShape when c is invalid or differs from cw's shape in
// channels, kernel or groups.
func (cw *ConvWeights) ForShape(c Conv) (*ConvWeights, error) {
	c = c.normal()
	if err := c.check(); err != nil {
		return nil, err
	}
	p := cw.shape
	if c.InC != p.InC || c.OutC != p.OutC || c.KH != p.KH || c.KW != p.KW || c.Groups != p.Groups {
		return nil, shapeErr("convolution %d→%d channels, kernel %d×%d, %d groups: the weights were packed for %d→%d, %d×%d, %d groups",
			c.InC, c.OutC, c.KH, c.KW, c.Groups, p.InC, p.OutC, p.KH, p.KW, p.Groups)
	}
	return &ConvWeights{shape: c, groups: cw.groups, dw: cw.dw}, nil
}
