// Package onnx reads and writes ONNX models: the protobuf messages of
// onnx.proto that a quantized (QuantizeLinear/DequantizeLinear) export
// needs, a canonical encoder (Marshal, WriteFile), a decoder hardened
// against hostile input (Unmarshal, ReadFile), and helpers that build
// tensors, attributes, nodes and value infos.
//
// It sits at the bottom of the package graph and imports no other
// tensorquant package: the exporter (onnx/export) builds a Model from the
// types here for ONNX Runtime and TensorRT, and the importer (graph) reads
// one.
//
// The Go types mirror the protobuf messages (Model is ModelProto, Graph is
// GraphProto, and so on) with the field numbers of onnx.proto v1.22.0 (IR
// version 13). Only the fields tensorquant uses, or that PyTorch writes,
// are modelled; Unmarshal keeps every other field as raw bytes and Marshal
// writes them back, so a decoded model re-encodes without loss. Marshal
// follows protoc's canonical order, so Marshal(Unmarshal(b)) == b for the
// files PyTorch and onnx's Python helper write.
//
// Models larger than protobuf's 2 GiB limit keep their initializers in an
// external data file beside the model (TensorProto's data_location
// EXTERNAL and external_data entries): WriteFile writes one automatically
// when a model would not fit, WriteFileExternal on request, and
// ReadExternalData reads a tensor's data back, only from inside the
// model's directory and within the bounds of the file.
//
// The protobuf wire format itself is in the internal package wire, written
// by hand: the module has no protobuf dependency.
package onnx
