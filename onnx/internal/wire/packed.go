package wire

import (
	"math"
	"slices"
)

// Integer is the set of element types of packed varint fields (protobuf
// int32, int64, uint32, uint64 and enums).
type Integer interface {
	~int32 | ~int64 | ~uint32 | ~uint64
}

// AppendPackedVarint appends vs as one packed field: the tag (num,
// BytesType), the payload length and one varint per element. Signed
// elements are sign-extended to 64 bits, as protobuf encodes int32 and
// int64 (a negative value takes ten bytes). An empty vs appends nothing.
func AppendPackedVarint[T Integer](b []byte, num Number, vs []T) []byte {
	if len(vs) == 0 {
		return b
	}
	n := 0
	for _, v := range vs {
		n += SizeVarint(uint64(v))
	}
	b = AppendTag(b, num, BytesType)
	b = AppendVarint(b, uint64(n))
	for _, v := range vs {
		b = AppendVarint(b, uint64(v))
	}
	return b
}

// AppendPackedFloat32 appends vs as one packed field of fixed32 IEEE-754
// bit patterns. An empty vs appends nothing.
func AppendPackedFloat32(b []byte, num Number, vs []float32) []byte {
	if len(vs) == 0 {
		return b
	}
	b = AppendTag(b, num, BytesType)
	b = AppendVarint(b, uint64(4*len(vs)))
	for _, v := range vs {
		b = AppendFixed32(b, math.Float32bits(v))
	}
	return b
}

// AppendPackedFloat64 appends vs as one packed field of fixed64 IEEE-754
// bit patterns. An empty vs appends nothing.
func AppendPackedFloat64(b []byte, num Number, vs []float64) []byte {
	if len(vs) == 0 {
		return b
	}
	b = AppendTag(b, num, BytesType)
	b = AppendVarint(b, uint64(8*len(vs)))
	for _, v := range vs {
		b = AppendFixed64(b, math.Float64bits(v))
	}
	return b
}

// ConsumePackedVarint decodes the payload of a packed varint field (the
// bytes that ConsumeBytes returned) and appends the elements to dst,
// truncating each to T as protobuf does for int32 and uint32. It grows dst
// once, by the number of varints the payload holds, so it never allocates
// more than len(b) elements. It returns len(b), or a negative error code
// for a truncated or overlong varint.
func ConsumePackedVarint[T Integer](b []byte, dst []T) ([]T, int) {
	count := 0
	for _, c := range b {
		if c < 0x80 {
			count++
		}
	}
	if len(b) > 0 && b[len(b)-1] >= 0x80 {
		return dst, errCodeTruncated
	}
	dst = slices.Grow(dst, count)
	for off := 0; off < len(b); {
		v, n := ConsumeVarint(b[off:])
		if n < 0 {
			return dst, n
		}
		dst = append(dst, T(v))
		off += n
	}
	return dst, len(b)
}

// ConsumePackedFloat32 decodes the payload of a packed float field and
// appends the elements to dst. A payload whose length is not a multiple of
// four is an error.
func ConsumePackedFloat32(b []byte, dst []float32) ([]float32, int) {
	if len(b)%4 != 0 {
		return dst, errCodeFixedLength
	}
	dst = slices.Grow(dst, len(b)/4)
	for off := 0; off < len(b); off += 4 {
		v, _ := ConsumeFixed32(b[off:])
		dst = append(dst, math.Float32frombits(v))
	}
	return dst, len(b)
}

// ConsumePackedFloat64 decodes the payload of a packed double field and
// appends the elements to dst. A payload whose length is not a multiple of
// eight is an error.
func ConsumePackedFloat64(b []byte, dst []float64) ([]float64, int) {
	if len(b)%8 != 0 {
		return dst, errCodeFixedLength
	}
	dst = slices.Grow(dst, len(b)/8)
	for off := 0; off < len(b); off += 8 {
		v, _ := ConsumeFixed64(b[off:])
		dst = append(dst, math.Float64frombits(v))
	}
	return dst, len(b)
}
