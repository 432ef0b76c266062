// Package wire is a small hand-written codec for the protocol buffer wire
// format, shaped like google.golang.org/protobuf/encoding/protowire:
// Append* functions add one encoded item to a byte slice, Consume* functions
// read one item from the front of a slice and return the number of bytes
// used, or a negative number that ParseError turns into an error.
//
// It knows nothing about messages; the onnx package builds ModelProto and
// its parts on top of it.
package wire

import (
	"errors"
	"math"
	"math/bits"
	"strconv"
)

// Number is a field number. Valid numbers are 1 to MaxValidNumber.
type Number int32

// The range of valid field numbers.
const (
	MinValidNumber Number = 1
	MaxValidNumber Number = 1<<29 - 1
)

// IsValid reports whether n is a field number a message may use.
func (n Number) IsValid() bool { return MinValidNumber <= n && n <= MaxValidNumber }

// Type is a wire type: how the value of a field is laid out.
type Type int8

// The wire types. Groups (StartGroupType, EndGroupType) are deprecated; they
// are only skipped (ConsumeFieldValue), never written.
const (
	VarintType     Type = 0
	Fixed64Type    Type = 1
	BytesType      Type = 2
	StartGroupType Type = 3
	EndGroupType   Type = 4
	Fixed32Type    Type = 5
)

// String returns the wire type's name, as used in error messages.
func (t Type) String() string {
	switch t {
	case VarintType:
		return "varint"
	case Fixed64Type:
		return "fixed64"
	case BytesType:
		return "bytes"
	case StartGroupType:
		return "start-group"
	case EndGroupType:
		return "end-group"
	case Fixed32Type:
		return "fixed32"
	}
	return "reserved(" + strconv.Itoa(int(t)) + ")"
}

// Error codes returned as the negative n of the Consume functions.
const (
	errCodeTruncated   = -1
	errCodeFieldNumber = -2
	errCodeOverflow    = -3
	errCodeReserved    = -4
	errCodeEndGroup    = -5
	errCodeRecursion   = -6
	errCodeFixedLength = -7
)

// MaxGroupDepth is how deeply groups may nest inside one field skipped by
// ConsumeFieldValue before it reports an error instead of recursing further.
const MaxGroupDepth = 100

var (
	errTruncated   = errors.New("wire: unexpected end of input")
	errFieldNumber = errors.New("wire: invalid field number")
	errOverflow    = errors.New("wire: varint longer than 10 bytes or above 2^64-1")
	errReserved    = errors.New("wire: reserved wire type")
	errEndGroup    = errors.New("wire: mismatched end-group marker")
	errRecursion   = errors.New("wire: groups nested too deeply")
	errFixedLength = errors.New("wire: packed fixed-width payload is not a multiple of the element size")
	errUnknown     = errors.New("wire: parse error")
)

// ParseError converts a negative n returned by a Consume function into an
// error; it returns nil for n >= 0.
func ParseError(n int) error {
	if n >= 0 {
		return nil
	}
	switch n {
	case errCodeTruncated:
		return errTruncated
	case errCodeFieldNumber:
		return errFieldNumber
	case errCodeOverflow:
		return errOverflow
	case errCodeReserved:
		return errReserved
	case errCodeEndGroup:
		return errEndGroup
	case errCodeRecursion:
		return errRecursion
	case errCodeFixedLength:
		return errFixedLength
	}
	return errUnknown
}

// EncodeTag combines a field number and a wire type into a tag value.
func EncodeTag(num Number, typ Type) uint64 { return uint64(num)<<3 | uint64(typ&7) }

// DecodeTag splits a tag value into its field number and wire type. A value
// whose number does not fit an int32 gives the invalid number -1.
func DecodeTag(x uint64) (Number, Type) {
	if x>>3 > math.MaxInt32 {
		return -1, 0
	}
	return Number(x >> 3), Type(x & 7)
}

// AppendTag appends the tag of a field.
func AppendTag(b []byte, num Number, typ Type) []byte { return AppendVarint(b, EncodeTag(num, typ)) }

// AppendVarint appends v in base-128 varint form (1 to 10 bytes, minimal).
// Signed integers are appended as uint64(v): a negative int32 or int64 takes
// ten bytes, as protobuf encodes them.
func AppendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// AppendFixed32 appends v as four little-endian bytes.
func AppendFixed32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

// AppendFixed64 appends v as eight little-endian bytes.
func AppendFixed64(b []byte, v uint64) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

// AppendBytes appends v with its length as a varint prefix.
func AppendBytes(b []byte, v []byte) []byte { return append(AppendVarint(b, uint64(len(v))), v...) }

// AppendString appends v with its length as a varint prefix.
func AppendString(b []byte, v string) []byte { return append(AppendVarint(b, uint64(len(v))), v...) }

// SizeVarint returns how many bytes AppendVarint writes for v.
func SizeVarint(v uint64) int {
	// 1 byte per 7 bits of the highest set bit, at least one byte.
	return int(9*uint32(bits.Len64(v))+64) / 64
}

// SizeTag returns how many bytes AppendTag writes for num.
func SizeTag(num Number) int { return SizeVarint(EncodeTag(num, 0)) }

// SizeBytes returns how many bytes AppendBytes writes for a payload of n
// bytes.
func SizeBytes(n int) int { return SizeVarint(uint64(n)) + n }

// ConsumeVarint reads a varint from the front of b. Non-minimal encodings
// (such as 0x80 0x00 for zero) are accepted up to the ten-byte limit; a
// tenth byte above 1, or an eleventh byte, is an overflow.
func ConsumeVarint(b []byte) (v uint64, n int) {
	for i := 0; i < 10; i++ {
		if i >= len(b) {
			return 0, errCodeTruncated
		}
		c := b[i]
		if i == 9 && c > 1 {
			return 0, errCodeOverflow
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, errCodeOverflow
}

// ConsumeTag reads a tag. A field number outside [MinValidNumber,
// MaxValidNumber] is an error.
func ConsumeTag(b []byte) (Number, Type, int) {
	v, n := ConsumeVarint(b)
	if n < 0 {
		return 0, 0, n
	}
	num, typ := DecodeTag(v)
	if !num.IsValid() {
		return 0, 0, errCodeFieldNumber
	}
	return num, typ, n
}

// ConsumeFixed32 reads four little-endian bytes.
func ConsumeFixed32(b []byte) (v uint32, n int) {
	if len(b) < 4 {
		return 0, errCodeTruncated
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24, 4
}

// ConsumeFixed64 reads eight little-endian bytes.
func ConsumeFixed64(b []byte) (v uint64, n int) {
	if len(b) < 8 {
		return 0, errCodeTruncated
	}
	lo, _ := ConsumeFixed32(b)
	hi, _ := ConsumeFixed32(b[4:])
	return uint64(lo) | uint64(hi)<<32, 8
}

// ConsumeBytes reads a length-prefixed payload. The result aliases b. A
// length larger than the rest of b is an error (errors never allocate).
func ConsumeBytes(b []byte) (v []byte, n int) {
	l, n := ConsumeVarint(b)
	if n < 0 {
		return nil, n
	}
	if l > uint64(len(b)-n) {
		return nil, errCodeTruncated
	}
	return b[n : n+int(l)], n + int(l)
}

// ConsumeString is ConsumeBytes returning a copy as a string.
func ConsumeString(b []byte) (v string, n int) {
	p, n := ConsumeBytes(b)
	return string(p), n
}

// ConsumeField reads a whole field (tag and value) and returns its number,
// wire type and total length.
func ConsumeField(b []byte) (Number, Type, int) {
	num, typ, n := ConsumeTag(b)
	if n < 0 {
		return 0, 0, n
	}
	m := ConsumeFieldValue(num, typ, b[n:])
	if m < 0 {
		return 0, 0, m
	}
	return num, typ, n + m
}

// ConsumeFieldValue returns the length of the value of a field whose tag
// (num, typ) has already been read. A group is skipped up to its matching
// end-group marker, nested at most MaxGroupDepth deep; an end-group marker
// where a value is expected, or a reserved wire type, is an error.
func ConsumeFieldValue(num Number, typ Type, b []byte) int {
	return consumeFieldValue(num, typ, b, MaxGroupDepth)
}

func consumeFieldValue(num Number, typ Type, b []byte, depth int) int {
	switch typ {
	case VarintType:
		_, n := ConsumeVarint(b)
		return n
	case Fixed32Type:
		_, n := ConsumeFixed32(b)
		return n
	case Fixed64Type:
		_, n := ConsumeFixed64(b)
		return n
	case BytesType:
		_, n := ConsumeBytes(b)
		return n
	case StartGroupType:
		if depth == 0 {
			return errCodeRecursion
		}
		for off := 0; ; {
			num2, typ2, n := ConsumeTag(b[off:])
			if n < 0 {
				return n
			}
			off += n
			if typ2 == EndGroupType {
				if num2 != num {
					return errCodeEndGroup
				}
				return off
			}
			m := consumeFieldValue(num2, typ2, b[off:], depth-1)
			if m < 0 {
				return m
			}
			off += m
		}
	case EndGroupType:
		return errCodeEndGroup
	}
	return errCodeReserved
}

// EncodeZigZag maps a signed integer to an unsigned one so that small
// magnitudes give short varints (sint32/sint64): 0, -1, 1, -2 → 0, 1, 2, 3.
func EncodeZigZag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// DecodeZigZag inverts EncodeZigZag.
func DecodeZigZag(x uint64) int64 { return int64(x>>1) ^ -int64(x&1) }
