package wire

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
)

func TestAppendGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want []byte
	}{
		{"varint 0", AppendVarint(nil, 0), []byte{0x00}},
		{"varint 1", AppendVarint(nil, 1), []byte{0x01}},
		{"varint 127", AppendVarint(nil, 127), []byte{0x7f}},
		{"varint 128", AppendVarint(nil, 128), []byte{0x80, 0x01}},
		{"varint 300", AppendVarint(nil, 300), []byte{0xac, 0x02}},
		{"varint 2^14-1", AppendVarint(nil, 1<<14-1), []byte{0xff, 0x7f}},
		{"varint 2^14", AppendVarint(nil, 1<<14), []byte{0x80, 0x80, 0x01}},
		{"varint 2^63", AppendVarint(nil, 1<<63), []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
		{"varint max", AppendVarint(nil, math.MaxUint64), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"int32 -1 sign-extended", AppendVarint(nil, uint64(int64(minusOne))), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"tag 1 varint", AppendTag(nil, 1, VarintType), []byte{0x08}},
		{"tag 2 bytes", AppendTag(nil, 2, BytesType), []byte{0x12}},
		{"tag 15 fixed32", AppendTag(nil, 15, Fixed32Type), []byte{0x7d}},
		{"tag 16 fixed64", AppendTag(nil, 16, Fixed64Type), []byte{0x81, 0x01}},
		{"tag 20 varint (AttributeProto.type)", AppendTag(nil, 20, VarintType), []byte{0xa0, 0x01}},
		{"tag max", AppendTag(nil, MaxValidNumber, BytesType), []byte{0xfa, 0xff, 0xff, 0xff, 0x0f}},
		{"fixed32", AppendFixed32(nil, 0x01020304), []byte{0x04, 0x03, 0x02, 0x01}},
		{"fixed32 float 1", AppendFixed32(nil, math.Float32bits(1)), []byte{0x00, 0x00, 0x80, 0x3f}},
		{"fixed64", AppendFixed64(nil, 0x0102030405060708), []byte{0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}},
		{"bytes empty", AppendBytes(nil, nil), []byte{0x00}},
		{"bytes", AppendBytes(nil, []byte{1, 2, 3}), []byte{0x03, 1, 2, 3}},
		{"string", AppendString(nil, "Relu"), []byte{0x04, 'R', 'e', 'l', 'u'}},
		{"string 128", AppendString(nil, string(make([]byte, 128)))[:2], []byte{0x80, 0x01}},
		{"appends", AppendVarint([]byte{0xaa}, 1), []byte{0xaa, 0x01}},
		{"packed int64", AppendPackedVarint(nil, 7, []int64{1, 300, -1}),
			[]byte{0x3a, 0x0d, 0x01, 0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"packed int32 negative", AppendPackedVarint(nil, 5, []int32{-2, 3}),
			[]byte{0x2a, 0x0b, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x03}},
		{"packed uint64", AppendPackedVarint(nil, 11, []uint64{math.MaxUint64}),
			[]byte{0x5a, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"packed empty", AppendPackedVarint(nil, 7, []int64{}), nil},
		{"packed float", AppendPackedFloat32(nil, 4, []float32{1, -2}),
			[]byte{0x22, 0x08, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0}},
		{"packed float empty", AppendPackedFloat32(nil, 4, nil), nil},
		{"packed double", AppendPackedFloat64(nil, 10, []float64{1}),
			[]byte{0x52, 0x08, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}},
		{"packed double empty", AppendPackedFloat64(nil, 10, nil), nil},
	} {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("%s: got % x, want % x", tc.name, tc.got, tc.want)
		}
	}
}

func TestSizes(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 1<<14 - 1, 1 << 14, 1<<21 - 1, 1 << 21, 1<<35 - 1, 1 << 35, 1<<56 - 1, 1 << 56, 1<<63 - 1, 1 << 63, math.MaxUint64} {
		if got, want := SizeVarint(v), len(AppendVarint(nil, v)); got != want {
			t.Errorf("SizeVarint(%#x) = %d, want %d", v, got, want)
		}
	}
	for _, n := range []Number{1, 15, 16, 2047, 2048, MaxValidNumber} {
		if got, want := SizeTag(n), len(AppendTag(nil, n, BytesType)); got != want {
			t.Errorf("SizeTag(%d) = %d, want %d", n, got, want)
		}
	}
	if got := SizeBytes(200); got != 202 {
		t.Errorf("SizeBytes(200) = %d, want 202", got)
	}
}

func TestConsumeVarint(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want uint64
		n    int
	}{
		{[]byte{0x00}, 0, 1},
		{[]byte{0x01, 0xff}, 1, 1},
		{[]byte{0xac, 0x02}, 300, 2},
		// Non-minimal encodings are accepted.
		{[]byte{0x80, 0x00}, 0, 2},
		{[]byte{0x81, 0x80, 0x80, 0x00}, 1, 4},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, 10},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, math.MaxUint64, 10},
		// Overflow: a tenth byte above 1, or an eleventh byte.
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 0, errCodeOverflow},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, errCodeOverflow},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81}, 0, errCodeOverflow},
		{nil, 0, errCodeTruncated},
		{[]byte{0x80}, 0, errCodeTruncated},
	} {
		v, n := ConsumeVarint(tc.in)
		if v != tc.want || n != tc.n {
			t.Errorf("ConsumeVarint(% x) = %d, %d; want %d, %d", tc.in, v, n, tc.want, tc.n)
		}
	}
}

// TestTruncationEveryByte cuts a valid encoding of each kind at every
// length short of complete and expects errCodeTruncated.
func TestTruncationEveryByte(t *testing.T) {
	type consumer func([]byte) int
	for _, tc := range []struct {
		name string
		enc  []byte
		f    consumer
	}{
		{"varint", AppendVarint(nil, math.MaxUint64), func(b []byte) int { _, n := ConsumeVarint(b); return n }},
		{"tag", AppendTag(nil, MaxValidNumber, BytesType), func(b []byte) int { _, _, n := ConsumeTag(b); return n }},
		{"fixed32", AppendFixed32(nil, 7), func(b []byte) int { _, n := ConsumeFixed32(b); return n }},
		{"fixed64", AppendFixed64(nil, 7), func(b []byte) int { _, n := ConsumeFixed64(b); return n }},
		{"bytes", AppendBytes(nil, make([]byte, 130)), func(b []byte) int { _, n := ConsumeBytes(b); return n }},
		{"string", AppendString(nil, "QuantizeLinear"), func(b []byte) int { _, n := ConsumeString(b); return n }},
		{"field", AppendBytes(AppendTag(nil, 9, BytesType), []byte("raw")), func(b []byte) int { _, _, n := ConsumeField(b); return n }},
		{"group field", []byte{0x0b, 0x10, 0x05, 0x1b, 0x1c, 0x0c},
			func(b []byte) int { _, _, n := ConsumeField(b); return n }},
	} {
		if n := tc.f(tc.enc); n != len(tc.enc) {
			t.Errorf("%s: complete encoding consumed %d of %d bytes", tc.name, n, len(tc.enc))
		}
		for i := range len(tc.enc) {
			if n := tc.f(tc.enc[:i]); n != errCodeTruncated {
				t.Errorf("%s cut at %d of %d bytes: n = %d, want %d", tc.name, i, len(tc.enc), n, errCodeTruncated)
			}
		}
	}
}

func TestConsumeTag(t *testing.T) {
	for _, tc := range []struct {
		in  []byte
		num Number
		typ Type
		n   int
	}{
		{[]byte{0x08}, 1, VarintType, 1},
		{[]byte{0xa0, 0x01}, 20, VarintType, 2},
		{[]byte{0xfa, 0xff, 0xff, 0xff, 0x0f}, MaxValidNumber, BytesType, 5},
		{[]byte{0x02}, 0, 0, errCodeFieldNumber},                         // field 0
		{[]byte{0x82, 0x80, 0x80, 0x80, 0x10}, 0, 0, errCodeFieldNumber}, // 2^29
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 0, 0, errCodeFieldNumber},
		{[]byte{0x0e}, 1, 6, 1}, // a reserved type is a valid tag; its value is not
	} {
		num, typ, n := ConsumeTag(tc.in)
		if num != tc.num || typ != tc.typ || n != tc.n {
			t.Errorf("ConsumeTag(% x) = %d, %v, %d; want %d, %v, %d", tc.in, num, typ, n, tc.num, tc.typ, tc.n)
		}
	}
}

func TestConsumeBytes(t *testing.T) {
	v, n := ConsumeBytes([]byte{0x03, 'a', 'b', 'c', 'd'})
	if string(v) != "abc" || n != 4 {
		t.Errorf("ConsumeBytes = %q, %d", v, n)
	}
	// A length far beyond the input is an error, not an allocation.
	huge := AppendVarint(nil, 1<<62)
	if _, n := ConsumeBytes(append(huge, 1, 2, 3)); n != errCodeTruncated {
		t.Errorf("huge length: n = %d", n)
	}
	if _, n := ConsumeBytes(AppendVarint(nil, math.MaxUint64)); n != errCodeTruncated {
		t.Errorf("2^64-1 length: n = %d", n)
	}
	s, n := ConsumeString([]byte{0x00})
	if s != "" || n != 1 {
		t.Errorf("ConsumeString(empty) = %q, %d", s, n)
	}
}

func TestConsumeFieldValue(t *testing.T) {
	nested := func(depth int) []byte {
		var b []byte
		for range depth {
			b = append(b, 0x0b) // field 1 start-group
		}
		for range depth {
			b = append(b, 0x0c) // field 1 end-group
		}
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		n    int
	}{
		{"varint", []byte{0x08, 0x96, 0x01, 0xff}, 3},
		{"fixed32", []byte{0x0d, 1, 2, 3, 4}, 5},
		{"fixed64", []byte{0x09, 1, 2, 3, 4, 5, 6, 7, 8}, 9},
		{"bytes", []byte{0x0a, 0x01, 0x00}, 3},
		{"group", []byte{0x0b, 0x10, 0x05, 0x0c}, 4},
		{"empty group", []byte{0x0b, 0x0c}, 2},
		{"groups at max depth", nested(MaxGroupDepth), 2 * MaxGroupDepth},
		{"groups too deep", nested(MaxGroupDepth + 1), errCodeRecursion},
		{"group with wrong end", []byte{0x0b, 0x14}, errCodeEndGroup},
		{"unterminated group", []byte{0x0b, 0x10, 0x05}, errCodeTruncated},
		{"stray end group", []byte{0x0c}, errCodeEndGroup},
		{"reserved type 6", []byte{0x0e, 0x00}, errCodeReserved},
		{"reserved type 7", []byte{0x0f, 0x00}, errCodeReserved},
		{"bad field number", []byte{0x00}, errCodeFieldNumber},
	} {
		_, _, n := ConsumeField(tc.in)
		if n != tc.n {
			t.Errorf("%s: ConsumeField(% x) n = %d, want %d", tc.name, tc.in, n, tc.n)
		}
	}
}

func TestParseError(t *testing.T) {
	if ParseError(0) != nil || ParseError(5) != nil {
		t.Error("ParseError of n >= 0 is not nil")
	}
	seen := map[string]bool{}
	for _, n := range []int{errCodeTruncated, errCodeFieldNumber, errCodeOverflow, errCodeReserved, errCodeEndGroup, errCodeRecursion, errCodeFixedLength, -99} {
		err := ParseError(n)
		if err == nil || seen[err.Error()] {
			t.Errorf("ParseError(%d) = %v (nil or duplicate)", n, err)
			continue
		}
		seen[err.Error()] = true
	}
	if !errors.Is(ParseError(errCodeTruncated), errTruncated) {
		t.Error("ParseError(truncated) is not errTruncated")
	}
}

func TestZigZag(t *testing.T) {
	for _, tc := range []struct {
		v int64
		x uint64
	}{
		{0, 0}, {-1, 1}, {1, 2}, {-2, 3}, {2147483647, 4294967294}, {-2147483648, 4294967295},
		{math.MaxInt64, math.MaxUint64 - 1}, {math.MinInt64, math.MaxUint64},
	} {
		if got := EncodeZigZag(tc.v); got != tc.x {
			t.Errorf("EncodeZigZag(%d) = %d, want %d", tc.v, got, tc.x)
		}
		if got := DecodeZigZag(tc.x); got != tc.v {
			t.Errorf("DecodeZigZag(%d) = %d, want %d", tc.x, got, tc.v)
		}
	}
}

func TestTagHelpers(t *testing.T) {
	if num, typ := DecodeTag(EncodeTag(19000, Fixed32Type)); num != 19000 || typ != Fixed32Type {
		t.Errorf("DecodeTag(EncodeTag(19000, fixed32)) = %d, %v", num, typ)
	}
	if num, _ := DecodeTag(1 << 40); num != -1 {
		t.Errorf("DecodeTag(2^40) number = %d, want -1", num)
	}
	for _, n := range []Number{0, -1, MaxValidNumber + 1} {
		if n.IsValid() {
			t.Errorf("%d.IsValid() = true", n)
		}
	}
	names := []string{"varint", "fixed64", "bytes", "start-group", "end-group", "fixed32", "reserved(6)", "reserved(7)"}
	for i, want := range names {
		if got := Type(i).String(); got != want {
			t.Errorf("Type(%d).String() = %q, want %q", i, got, want)
		}
	}
}

func TestPackedRoundTrip(t *testing.T) {
	i64 := []int64{0, 1, -1, 300, math.MinInt64, math.MaxInt64}
	payload := func(b []byte) []byte {
		_, _, n := ConsumeTag(b)
		v, m := ConsumeBytes(b[n:])
		if m < 0 || n+m != len(b) {
			t.Fatalf("packed field % x does not parse: %d", b, m)
		}
		return v
	}
	got, n := ConsumePackedVarint(payload(AppendPackedVarint(nil, 7, i64)), []int64{42})
	if n < 0 || !slices.Equal(got, append([]int64{42}, i64...)) {
		t.Errorf("int64 round trip: %v, %d", got, n)
	}
	i32 := []int32{0, -1, math.MinInt32, math.MaxInt32}
	got32, n := ConsumePackedVarint(payload(AppendPackedVarint(nil, 5, i32)), []int32(nil))
	if n < 0 || !slices.Equal(got32, i32) {
		t.Errorf("int32 round trip: %v, %d", got32, n)
	}
	// int32 decoding truncates a 64-bit varint, as protobuf does.
	if v, _ := ConsumePackedVarint(AppendVarint(nil, 1<<32+5), []int32(nil)); !slices.Equal(v, []int32{5}) {
		t.Errorf("int32 truncation: %v", v)
	}
	f32 := []float32{1, float32(math.Inf(-1)), float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32}
	gotf, n := ConsumePackedFloat32(payload(AppendPackedFloat32(nil, 4, f32)), nil)
	if n < 0 || len(gotf) != len(f32) {
		t.Fatalf("float32 round trip: %v, %d", gotf, n)
	}
	for i := range f32 {
		if math.Float32bits(gotf[i]) != math.Float32bits(f32[i]) {
			t.Errorf("float32[%d] = %v, want %v", i, gotf[i], f32[i])
		}
	}
	f64 := []float64{1, math.NaN(), math.Copysign(0, -1)}
	gotd, n := ConsumePackedFloat64(payload(AppendPackedFloat64(nil, 10, f64)), nil)
	if n < 0 || len(gotd) != len(f64) {
		t.Fatalf("float64 round trip: %v, %d", gotd, n)
	}
	for i := range f64 {
		if math.Float64bits(gotd[i]) != math.Float64bits(f64[i]) {
			t.Errorf("float64[%d] = %v, want %v", i, gotd[i], f64[i])
		}
	}
	// Errors.
	for _, tc := range []struct {
		name string
		n    int
		want int
	}{
		{"varint truncated", second(ConsumePackedVarint([]byte{0x01, 0x80}, []int64(nil))), errCodeTruncated},
		{"varint overflow", second(ConsumePackedVarint([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, []int64(nil))), errCodeOverflow},
		{"float length", second(ConsumePackedFloat32([]byte{1, 2, 3, 4, 5}, nil)), errCodeFixedLength},
		{"double length", second(ConsumePackedFloat64([]byte{1, 2, 3, 4}, nil)), errCodeFixedLength},
		{"empty varints", second(ConsumePackedVarint([]byte{}, []uint64(nil))), 0},
	} {
		if tc.n != tc.want {
			t.Errorf("%s: n = %d, want %d", tc.name, tc.n, tc.want)
		}
	}
}

var minusOne int32 = -1

func second[T any](_ T, n int) int { return n }

// TestPackedAllocationBounded: the decoded slice is grown once, to the
// number of varints the payload holds, and a dst with room is reused.
func TestPackedAllocationBounded(t *testing.T) {
	b := bytes.Repeat([]byte{0x01}, 1000)
	v, n := ConsumePackedVarint(b, []int64(nil))
	if n != 1000 || len(v) != 1000 || cap(v) > 1024 {
		t.Errorf("1000 varints: n %d, len %d, cap %d", n, len(v), cap(v))
	}
	dst := make([]int64, 0, 1000)
	v, _ = ConsumePackedVarint(b, dst)
	if &v[0] != &dst[:1][0] {
		t.Error("a dst with enough room was reallocated")
	}
	f, _ := ConsumePackedFloat32(make([]byte, 4000), nil)
	if len(f) != 1000 || cap(f) > 1024 {
		t.Errorf("1000 floats: len %d, cap %d", len(f), cap(f))
	}
}
