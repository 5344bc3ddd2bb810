// Cast: one invocation per output element, converted as the host converts (element_code.h).
#include "providers/webgpu/kernels/element_code.h"
#include "providers/webgpu/kernels/kernels.h"

namespace devtensor::webgpu {

DtStatus* RecordCast(Context& context, CommandList& list, const DtOpCall& call) {
  OpBuilder b(context, list, call);
  const DtElementType to = call.outputs[0]->element_type;
  TypeInfo info{};
  Describe(to, &info);
  return RecordPerElement(b, call, 1, [&](const std::vector<DtTensorRef>& used) {
    const DtElementType from = used[0].element_type;
    return Store(to, info.size, "address(0u, index)",
                 Convert(from, to, FromBits(from, "raw1(address(1u, index))")));
  });
}

}  // namespace devtensor::webgpu
