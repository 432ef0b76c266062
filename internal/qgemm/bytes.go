package qgemm

import (
	"crypto/subtle"
	"encoding/binary"
	"sync"
	"unsafe"
)

// Byte moves for the activations: eight bytes at a time in plain Go, but
// for the sign flip of whole rows, which crypto/subtle vectorizes.

// fillBytes sets every byte of b to v.
func fillBytes(b []byte, v byte) {
	if len(b) == 0 {
		return
	}
	b[0] = v
	for n := 1; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}

// signFlips is a run of 0x80 bytes, the flip between int8 and uint8
// codes, for crypto/subtle.XORBytes (vectorized in the standard library).
var signFlips = func() *[4096]byte {
	var b [4096]byte
	for i := range b {
		b[i] = 0x80
	}
	return &b
}()

// xorCopy sets dst[i] = src[i] ^ flip for i < len(src).
func xorCopy(dst, src []byte, flip byte) {
	dst = dst[:len(src)]
	switch flip {
	case 0:
		copy(dst, src)
		return
	case 0x80:
		for len(src) > 0 {
			n := subtle.XORBytes(dst, src, signFlips[:min(len(src), len(signFlips))])
			dst, src = dst[n:], src[n:]
		}
		return
	}
	f := uint64(flip) * 0x0101010101010101
	i := 0
	for ; i+8 <= len(src); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^f)
	}
	for ; i < len(src); i++ {
		dst[i] = src[i] ^ flip
	}
}

// widenCopy sets the little-endian uint16 dst[2i:2i+2] to src[i] ^ flip
// for i < len(src): the blocks of 16 bytes in assembly (widenBlocks), the
// rest 8 bytes at a time in a word.
func widenCopy(dst, src []byte, flip byte) {
	dst = dst[:2*len(src)]
	f := uint64(flip) * 0x0101010101010101
	i := widenBlocks(dst, src, flip)
	for ; i+8 <= len(src); i += 8 {
		v := binary.LittleEndian.Uint64(src[i:]) ^ f
		binary.LittleEndian.PutUint64(dst[2*i:], spread(uint32(v)))
		binary.LittleEndian.PutUint64(dst[2*i+8:], spread(uint32(v>>32)))
	}
	for ; i < len(src); i++ {
		dst[2*i], dst[2*i+1] = src[i]^flip, 0
	}
}

// spread returns the 4 bytes of v as 4 uint16 lanes of a word.
func spread(v uint32) uint64 {
	x := uint64(v)
	x = (x | x<<16) & 0x0000ffff0000ffff
	return (x | x<<8) & 0x00ff00ff00ff00ff
}

// transposeBytes sets dst[j·ldd + i] = src[i·lds + j] ^ flip for i < rows,
// j < cols: blocks of 8×8 bytes are transposed in three rounds of
// swaps within eight uint64 words.
func transposeBytes(dst []byte, ldd int, src []byte, lds, rows, cols int, flip byte) {
	f := uint64(flip) * 0x0101010101010101
	c8 := 0 // the blocks of columns done in assembly
	if transposeBlocks(dst, ldd, src, lds, rows, cols, flip) {
		c8 = cols / 8 * 8
	}
	i := 0
	for ; i+8 <= rows; i += 8 {
		j := c8
		for ; j+8 <= cols; j += 8 {
			var w [8]uint64
			for k := range w {
				w[k] = binary.LittleEndian.Uint64(src[(i+k)*lds+j:]) ^ f
			}
			transpose8x8(&w)
			for k := range w {
				binary.LittleEndian.PutUint64(dst[(j+k)*ldd+i:], w[k])
			}
		}
		for ; j < cols; j++ {
			for k := range 8 {
				dst[j*ldd+i+k] = src[(i+k)*lds+j] ^ flip
			}
		}
	}
	for ; i < rows; i++ {
		for j := range cols {
			dst[j*ldd+i] = src[i*lds+j] ^ flip
		}
	}
}

// transposeQuads sets the 4 bytes of pixel j of dst, dst[4j + i], to
// src[i·lds + j] ^ flip for i < rows and to pad for rows ≤ i < 4, for
// j < cols (rows ≤ 3): the NCHW rows of an image of fewer than 4
// channels into pixels of 4 (quadChannels). The assembly (quadBlocks)
// writes blocks of 16 pixels, this loop the others.
func transposeQuads(dst, src []byte, lds, rows, cols int, flip, pad byte) {
	dst = dst[:4*cols]
	for j := quadBlocks(dst, src, lds, rows, cols, flip, pad); j < cols; j++ {
		d := dst[4*j : 4*j+4 : 4*j+4]
		for i := range d {
			d[i] = pad
			if i < rows {
				d[i] = src[i*lds+j] ^ flip
			}
		}
	}
}

// spreadPixels copies the pixels of c < 4 channels of src into dst's of
// 4, flipping their bytes, the others set to pad (quadChannels, NHWC).
func spreadPixels(dst, src []byte, c int, flip, pad byte) {
	for j := range len(src) / c {
		d := dst[4*j : 4*j+4 : 4*j+4]
		for i := range d {
			d[i] = pad
			if i < c {
				d[i] = src[j*c+i] ^ flip
			}
		}
	}
}

// transpose8x8 transposes the 8×8 byte matrix whose row k is w[k] (byte j
// of a word is its element j, little-endian): swaps of the off-diagonal
// 4×4 blocks, then 2×2 blocks within them, then single bytes.
func transpose8x8(w *[8]uint64) {
	for k := range 4 {
		t := (w[k]>>32 ^ w[k+4]) & 0x00000000ffffffff
		w[k] ^= t << 32
		w[k+4] ^= t
	}
	for _, k := range [4]int{0, 1, 4, 5} {
		t := (w[k]>>16 ^ w[k+2]) & 0x0000ffff0000ffff
		w[k] ^= t << 16
		w[k+2] ^= t
	}
	for _, k := range [4]int{0, 2, 4, 6} {
		t := (w[k]>>8 ^ w[k+1]) & 0x00ff00ff00ff00ff
		w[k] ^= t << 8
		w[k+1] ^= t
	}
}

// bytePool holds the byte buffers of the padded inputs and transposed
// outputs, wordPool the 32-bit buffers of transposed outputs (int32 sums,
// floats).
var bytePool, wordPool sync.Pool // of *[]byte, *[]uint32

// getBuf returns a buffer of n elements (not cleared) from pool, which
// holds *[]T; pool.Put returns it.
func getBuf[T byte | uint32](pool *sync.Pool, n int) *[]T {
	if p, ok := pool.Get().(*[]T); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]T, n)
	return &b
}

// transposeBits32 sets dst[j·ldd + i] = src[i·lds + j] for i < rows, j <
// cols: 32-bit values (int32, or float32 bits), 8×8 blocks in assembly
// where there is some.
func transposeBits32(dst []uint32, ldd int, src []uint32, lds, rows, cols int) {
	r8, c8 := 0, 0
	if transposeBlocks32(dst, ldd, src, lds, rows, cols) {
		r8, c8 = rows/8*8, cols/8*8
	}
	for i := range rows {
		j := 0
		if i < r8 {
			j = c8
		}
		for ; j < cols; j++ {
			dst[j*ldd+i] = src[i*lds+j]
		}
	}
}

// bits32 returns the 32-bit patterns of an int32 or float32 slice.
func bits32[T int32 | float32](s []T) []uint32 {
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// fromBits32 is bits32's inverse: the words of w as int32 or float32.
func fromBits32[T int32 | float32](w []uint32) []T {
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(w))), len(w))
}
