package report

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func sample() Report {
	counts := make([]int64, 256)
	edges := make([]float64, 257)
	for i := range counts {
		counts[i] = int64(100000 / (1 + i*i/16))
	}
	for i := range edges {
		edges[i] = float64(i) * 4.0 / 256
	}
	return Report{
		Title: "tensorquant calibration report",
		Notes: []string{"digits CNN, 8-bit"},
		Table: Table{Columns: []string{"method", "top-1"}, Rows: [][]string{{"float", "98.1%"}, {"entropy", "97.9%"}}},
		Quantizers: []Histogram{
			{Name: "features.0.input_quantizer", Counts: counts, Edges: edges,
				Amax: []Marker{{"max", 4}, {"entropy", 2.5}, {"percentile", 3.1}, {"mse", 2.2}}},
			{Name: "<b>classifier</b>", Counts: []int64{5, 0, 3}, Edges: []float64{0, 1, 2, 3}, Amax: []Marker{{"max", 3}}},
		},
	}
}

func TestWriteContent(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, sample()); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{
		"<title>tensorquant calibration report</title>", "<td>97.9%</td>", "digits CNN, 8-bit",
		"features.0.input_quantizer", "entropy amax = 2.5", "mse amax = 2.2", "256 bins over [0, 4]",
		"&lt;b&gt;classifier&lt;/b&gt;", "3 bins over [0, 3], 8 values",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "<b>classifier", "src=", "href=", "http://www.w3.org/1999"} {
		if strings.Contains(html, bad) {
			t.Errorf("report contains %q", bad)
		}
	}
	if n := strings.Count(html, "<svg"); n != 2 {
		t.Errorf("%d plots, want 2", n)
	}
}

func TestValidate(t *testing.T) {
	for name, mod := range map[string]func(*Histogram){
		"edges":    func(h *Histogram) { h.Edges = h.Edges[:2] },
		"order":    func(h *Histogram) { h.Edges[1] = -1 },
		"negative": func(h *Histogram) { h.Counts[0] = -1 },
		"marker":   func(h *Histogram) { h.Amax[0].Value = math.Inf(1) },
	} {
		r := sample()
		mod(&r.Quantizers[1])
		if err := Write(&bytes.Buffer{}, r); err == nil || !strings.Contains(err.Error(), "classifier") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

// TestRenderInChromium renders the report in headless Chromium and checks
// that the screenshot shows the histogram bars and the amax lines.
func TestRenderInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("rendering takes seconds; runs without -short")
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("TQ_REQUIRE_TOOLS") == "1" {
			t.Fatal("chromium not installed (TQ_REQUIRE_TOOLS=1)")
		}
		t.Skip("chromium not installed; make test installs it")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := WriteFile(page, sample()); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "shot.png")
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=900,1100", "--screenshot="+shot, "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	var nonWhite, bars, red int
	bnd := img.Bounds()
	for y := bnd.Min.Y; y < bnd.Max.Y; y++ {
		for x := bnd.Min.X; x < bnd.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			r, g, b = r>>8, g>>8, b>>8
			if r < 245 || g < 245 || b < 245 {
				nonWhite++
			}
			if near(r, 0x9e) && near(g, 0xca) && near(b, 0xe1) {
				bars++
			}
			if near(r, 0xd6) && near(g, 0x27) && near(b, 0x28) {
				red++
			}
		}
	}
	total := bnd.Dx() * bnd.Dy()
	if nonWhite < total/50 || bars < 2000 || red < 100 {
		t.Fatalf("screenshot looks blank: %d of %d pixels not white, %d bar pixels, %d marker pixels", nonWhite, total, bars, red)
	}
	if dst := os.Getenv("TQ_REPORT_SCREENSHOT"); dst != "" {
		b, _ := os.ReadFile(shot)
		os.WriteFile(dst, b, 0o644)
	}
}

func near(v, want uint32) bool { return v+6 >= want && v <= want+6 }
