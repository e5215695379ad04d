// safetensors: the tensor file format of Hugging Face (https://github.com/huggingface/safetensors),
// read and written without dependencies, so pmx weights open in PyTorch and back.
//
// Layout of a file:
//   bytes [0, 8)        N, the header length, uint64 little-endian
//   bytes [8, 8 + N)    JSON header, padded with spaces so the data starts 8-byte aligned:
//                         {"__metadata__": {"key": "value", ...},
//                          "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
//   bytes [8 + N, end)  the data section; tensor "name" is bytes [begin, end) of it, row-major,
//                       little-endian, with end - begin == numel * element size
// Tensors must tile the data section exactly: no overlaps, no holes, no trailing bytes (as the
// reference implementation requires, so a file cannot smuggle in extra content).
//
// Supported dtypes: F32 <-> float32, F64 <-> float64, I64 <-> int64. Writing is atomic
// (core/file_io.h) and makes non-contiguous tensors dense; keys are written sorted. Loading
// checks the whole header against the file size before allocating anything and throws a
// pmx::Error naming the file and the problem (too short, bad JSON with its byte offset, unknown
// dtype, shape/offsets mismatch, overlap, truncation) for every malformed input.
//
//   pmx::save_safetensors("w.safetensors", {{"weight", w}, {"bias", b}}, {{"epoch", "3"}});
//   std::map<std::string, std::string> meta;
//   auto tensors = pmx::load_safetensors("w.safetensors", &meta);   // tensors.at("weight")
#pragma once
#include <map>
#include <string>

#include "core/tensor.h"

namespace pmx {

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Every tensor comes back dense, owning its storage. `metadata`, when given, receives the
// "__metadata__" entries (empty if the file has none).
std::map<std::string, Tensor> load_safetensors(const std::string& path,
                                               std::map<std::string, std::string>* metadata = nullptr);

}  // namespace pmx
