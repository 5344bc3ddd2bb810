# Brings up Vulkan and devtensor's WebGPU runtime on the GPU machine, from what `prepare` staged.
# Sourced by gpu-check.sh and gpu-bench.sh, run from the repository root:
#
#   source scripts/gpu-env.sh
#   gpu_bring_up .gpu
#
# Installs the staged Vulkan loader packages, points the loader at the NVIDIA ICD and devtensor at
# the staged Dawn runtime, and puts the staged libraries (Dawn, Google Benchmark, ...) on the
# library path.
gpu_bring_up() {
  local stage=$1 deb
  for deb in "$stage"/debs/*.deb; do dpkg -x "$deb" /; done
  ldconfig
  export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
  export __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}
  export DEVTENSOR_WEBGPU_RUNTIME=$PWD/$stage/lib/libwebgpu_wrapper.so
  export LD_LIBRARY_PATH=$PWD/$stage/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
}
