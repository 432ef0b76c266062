package layers

import (
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/tensor"
)

// CrossEntropy is torch.nn.functional.cross_entropy with mean reduction:
// for logits [N, C] and class labels in [0, C) it returns
//
//	loss = mean over n of (logsumexp(logits[n]) - logits[n][labels[n]])
//
// computed in float64 with the maximum subtracted first (stable for large
// logits), and the gradient of the loss with respect to the logits,
// (softmax(logits[n]) - onehot(labels[n])) / N. It returns an error for
// logits that are not [N, C] with N, C >= 1, a label count other than N,
// or a label outside [0, C).
func CrossEntropy(logits *tensor.Tensor, labels []int) (float64, *tensor.Tensor, error) {
	if err := logits.Validate(); err != nil {
		return 0, nil, fmt.Errorf("layers: cross entropy: logits: %w", err)
	}
	if len(logits.Shape) != 2 || logits.Shape[0] < 1 || logits.Shape[1] < 1 {
		return 0, nil, fmt.Errorf("layers: cross entropy: logits shape %v: want [N, C] with N, C >= 1", logits.Shape)
	}
	N, C := logits.Shape[0], logits.Shape[1]
	if len(labels) != N {
		return 0, nil, fmt.Errorf("layers: cross entropy: %d labels for logits of shape %v", len(labels), logits.Shape)
	}
	grad := tensor.New(N, C)
	var total float64
	for n, y := range labels {
		if y < 0 || y >= C {
			return 0, nil, fmt.Errorf("layers: cross entropy: label %d of sample %d is outside [0, %d)", y, n, C)
		}
		row := logits.Data[n*C : (n+1)*C]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		total += lse - float64(row[y])
		g := grad.Data[n*C : (n+1)*C]
		for j, v := range row {
			p := math.Exp(float64(v) - lse)
			if j == y {
				p--
			}
			g[j] = float32(p / float64(N))
		}
	}
	return total / float64(N), grad, nil
}
