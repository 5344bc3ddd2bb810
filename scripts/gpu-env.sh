# Brings up Vulkan and devtensor's WebGPU runtime on the GPU machine, from what `prepare` staged.
# Sourced by gpu-check.sh and gpu-bench.sh, run from the repository root:
#
#   source scripts/gpu-env.sh
#   gpu_bring_up .gpu
#
# Installs the staged Vulkan loader packages, points the loader at the NVIDIA ICD, puts the staged
# libraries (Google Benchmark, ...) on the library path, and names the machine's CUDA toolkit
# (CUDA_HOME=/usr/local/cuda, when that exists and CUDA_HOME is unset), where the CUDA provider
# finds NVRTC; the NVIDIA driver's libcuda.so.1 is on the system's library path already. The staged build finds its Dawn
# runtime beside its WebGPU provider; DEVTENSOR_WEBGPU_RUNTIME names that same file for the raw
# Dawn benchmark, whose built-in path is the one of the machine that built it.
gpu_bring_up() {
  local stage=$1 deb
  for deb in "$stage"/debs/*.deb; do dpkg -x "$deb" /; done
  ldconfig
  export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
  export __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}
  export DEVTENSOR_WEBGPU_RUNTIME=$PWD/$stage/build/devtensor/libwebgpu_wrapper.so
  export LD_LIBRARY_PATH=$PWD/$stage/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  if [ -z "${CUDA_HOME:-}" ] && [ -d /usr/local/cuda ]; then export CUDA_HOME=/usr/local/cuda; fi
}
