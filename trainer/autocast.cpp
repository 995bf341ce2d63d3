#include "trainer/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace trainer {
namespace {

// LibTorch 2.x takes the device type; 1.x has a function per device (CUDA's unnamed).
#if TORCH_VERSION_MAJOR >= 2
bool is_enabled(at::DeviceType type) { return at::autocast::is_autocast_enabled(type); }
void set_enabled(at::DeviceType type, bool on) { at::autocast::set_autocast_enabled(type, on); }
at::ScalarType get_dtype(at::DeviceType type) { return at::autocast::get_autocast_dtype(type); }
void set_dtype(at::DeviceType type, at::ScalarType dtype) { at::autocast::set_autocast_dtype(type, dtype); }
#else
bool is_enabled(at::DeviceType type) {
  return type == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_enabled(at::DeviceType type, bool on) {
  type == at::kCUDA ? at::autocast::set_enabled(on) : at::autocast::set_cpu_enabled(on);
}
at::ScalarType get_dtype(at::DeviceType type) {
  return type == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void set_dtype(at::DeviceType type, at::ScalarType dtype) {
  type == at::kCUDA ? at::autocast::set_autocast_gpu_dtype(dtype) : at::autocast::set_autocast_cpu_dtype(dtype);
}
#endif

}  // namespace

// torch.autocast's __enter__ and __exit__.
AutocastRegion::AutocastRegion(const torch::Device& device, bool enabled, at::ScalarType dtype)
    : enabled_(enabled), device_type_(device.type()) {
  if (!enabled_) return;
  was_enabled_ = is_enabled(device_type_);
  previous_dtype_ = get_dtype(device_type_);
  set_enabled(device_type_, true);
  set_dtype(device_type_, dtype);
  at::autocast::increment_nesting();
}

AutocastRegion::~AutocastRegion() {
  if (!enabled_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_enabled(device_type_, was_enabled_);
  set_dtype(device_type_, previous_dtype_);
}

}  // namespace trainer
