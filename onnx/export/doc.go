// Package export turns a model of package layers into an ONNX model
// (package onnx) for inference in ONNX Runtime or TensorRT.
//
//	tensor -> reduce -> fakequant -> histogram -> calibrators -> layers -> onnx -> onnx/export
//
// It is the end of the pipeline: it reads the layers' exported
// hyper-parameters and weights (PyTorch's layouts) and builds the graph
// with package onnx's types, so package onnx itself stays free of layers.
//
//	m, err := export.Model(model, export.Options{InputShape: []int{1, 8, 8}})
//	...
//	err = onnx.WriteFile("model.onnx", m)
//
// The graph follows what PyTorch's exporter writes for the same model:
// input "input" of shape [batch, InputShape...] with a symbolic batch
// dimension, output "output", weights as initializers named like
// PyTorch's parameters ("features.0.weight"), nodes named by module scope
// ("/features/features.0/Conv", output "/features/features.0/Conv_output_0"),
// attributes in PyTorch's order, and a value_info for every intermediate
// value.
//
// # Layers
//
//   - Sequential: its children in order; Residual: body(x) + shortcut(x)
//     as Add (x itself when the shortcut is nil).
//   - Conv1d/2d/3d: Conv; ConvTranspose1d/2d/3d: ConvTranspose (stride,
//     padding, dilation, groups, output padding).
//   - Linear: Gemm (transB=1) on a 2-D input, as PyTorch exports it;
//     MatMul with the transposed weight ("<name>.weight_transposed") and
//     Add on inputs of more dimensions, and at opset 10 for a Linear
//     without bias (Gemm-10 requires one).
//   - MaxPool1d/2d/3d: MaxPool (dilations when not 1); AvgPool1d/2d/3d:
//     AveragePool (count_include_pad=1 when padded, PyTorch's default).
//   - AdaptiveAvgPool1d/2d/3d: GlobalAveragePool when the output size is
//     1, else AveragePool with kernel = stride = input/output when every
//     input size is a multiple of the output size; otherwise an error.
//   - BatchNorm1d/2d/3d: BatchNormalization with the running statistics,
//     or folded into the convolution it follows (Options.FoldBatchNorm).
//   - ReLU: Relu; Dropout: nothing (inference); Flatten: Flatten(axis=1)
//     for start_dim 1 through the last dimension, Reshape otherwise (an
//     error for start_dim 0, which would merge the symbolic batch
//     dimension).
//
// Any other layer is an error naming it.
package export
