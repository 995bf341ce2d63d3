#pragma once
// TensorBoard's event file format, written without TensorFlow or a protobuf code generator: a file
// is a sequence of TFRecords (length, masked CRC-32C of the length, payload, masked CRC-32C of the
// payload), each payload a serialized tensorflow.Event. We write three kinds of Event (the file
// version, a scalar summary, a session start), whose protobuf encoding is a few tagged fields;
// encoding them here keeps a code generator and libprotobuf out of the build. The CRC is
// Boost.CRC's, with CRC-32C's parameters.

#include <cstddef>
#include <cstdint>
#include <string>

namespace trainer::telemetry {

// CRC-32C (Castagnoli) of the bytes, masked as TFRecord masks it.
std::uint32_t masked_crc32c(const void* data, std::size_t size);

// Writes all of `text` to `fd`, retrying interrupted and short writes. Returns 0, or the errno of
// the write that failed (EIO for one that wrote nothing); `written` says how far it got.
int write_all(int fd, const std::string& text, std::size_t& written);

// One TFRecord around `payload`.
std::string tf_record(const std::string& payload);

// Serialized tensorflow.Event messages. `wall_time`: seconds since the Unix epoch.
std::string file_version_event(double wall_time);                    // "brain.Event:2"
std::string scalar_event(double wall_time, std::int64_t step, const std::string& tag, float value);
// SessionLog START at `step`: TensorBoard drops what earlier files logged at `step` and after,
// as it does for a restarted TensorFlow job (a resumed run rewrites those steps).
std::string session_start_event(double wall_time, std::int64_t step);

}  // namespace trainer::telemetry
