package digits

import (
	"bytes"
	"compress/gzip"
	"slices"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.X.Shape, []int{Samples, 1, Height, Width}; len(got) != 4 || got[0] != want[0] || got[1] != 1 || got[2] != 8 || got[3] != 8 {
		t.Fatalf("shape %v, want %v", got, want)
	}
	// The first image of the file (a 0): its first row is 0,0,5,13,9,1,0,0.
	for i, want := range []float32{0, 0, 5, 13, 9, 1, 0, 0} {
		if got := s.X.Data[i]; got != want/16 {
			t.Errorf("pixel %d = %v, want %v", i, got, want/16)
		}
	}
	counts := make([]int, Classes)
	for _, l := range s.Labels {
		counts[l]++
	}
	// sklearn's load_digits class counts.
	want := []int{178, 182, 177, 183, 181, 182, 181, 179, 174, 180}
	for c := range counts {
		if counts[c] != want[c] {
			t.Errorf("class %d: %d samples, want %d", c, counts[c], want[c])
		}
	}
	if s.Labels[0] != 0 || s.Labels[1] != 1 || s.Labels[2] != 2 {
		t.Errorf("first labels %v, want [0 1 2]", s.Labels[:3])
	}
}

func TestSplit(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := s.Split(0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if test.Len() != 359 || train.Len() != Samples-359 || train.X.Shape[0] != train.Len() {
		t.Fatalf("split sizes %d/%d", train.Len(), test.Len())
	}
	train2, test2, _ := s.Split(0.2, 7)
	for i := range test.Labels {
		if test.Labels[i] != test2.Labels[i] {
			t.Fatal("same seed gave a different split")
		}
	}
	_, test3, _ := s.Split(0.2, 8)
	same := true
	for i := range test.Labels {
		same = same && test.Labels[i] == test3.Labels[i]
	}
	if same {
		t.Error("different seeds gave the same test labels")
	}
	// Each sample appears exactly once: compare multisets of image sums.
	sum := func(d []float32) (s float64) {
		for _, v := range d {
			s += float64(v)
		}
		return
	}
	if a, b := sum(s.X.Data), sum(train2.X.Data)+sum(test2.X.Data); a != b {
		t.Errorf("pixel sums %v before and %v after the split", a, b)
	}
	// The images travel with their labels: the first image (a 0) is found
	// with label 0 in one of the parts.
	first := s.X.Data[:64]
	found := false
	for _, part := range []Set{train, test} {
		for i := range part.Labels {
			if slices.Equal(part.X.Data[i*64:(i+1)*64], first) && part.Labels[i] == 0 {
				found = true
			}
		}
	}
	if !found {
		t.Error("first image not found with its label after the split")
	}
	if _, _, err := s.Split(1.5, 1); err == nil {
		t.Error("test fraction 1.5 accepted")
	}
}

func TestDecodeErrors(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	row := strings.Repeat("1,", 64)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"not gzip", []byte("this is not a gzip stream"), "digits: gzip: invalid header"},
		{"empty", gz(""), "no samples"},
		{"short row", gz("1,2,3\n"), "wrong number of fields"},
		{"pixel 17", gz(strings.Repeat("17,", 64) + "1\n"), `"17" is not an integer in [0, 16]`},
		{"label 10", gz(row + "10\n"), `"10" is not an integer in [0, 9]`},
	} {
		_, err := decode(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}
