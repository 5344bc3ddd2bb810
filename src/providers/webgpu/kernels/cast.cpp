// Cast: one invocation per output element, converted as the host converts (element_code.h).
#include "providers/webgpu/kernels/element_code.h"
#include "providers/webgpu/kernels/kernels.h"

namespace devtensor::webgpu {

DtStatus* RecordCast(Context& context, CommandList& list, const DtOpCall& call) {
  OpBuilder b(context, list, call);
  // Captures only the call: no allocation for the std::function on each op.
  return RecordPerElement(b, call, 1, [&call](const std::vector<DtTensorRef>& used) {
    const DtElementType from = used[0].element_type, to = call.outputs[0]->element_type;
    return Store(to, static_cast<uint32_t>(call.outputs[0]->element_size), "address(0u, index)",
                 Convert(from, to, FromBits(from, "raw1(address(1u, index))")));
  });
}

}  // namespace devtensor::webgpu
