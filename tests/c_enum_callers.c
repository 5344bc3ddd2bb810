/* Calls of the C API made the way a C program may make them: an enum argument or field holds
 * whatever int the caller put there. C++ code cannot do this without undefined behaviour of its
 * own, so c_enum_test.cpp calls these. */
#include "devtensor/devtensor.h"

size_t CallGetElementSize(int type) { return DtGetElementSize((DtElementType)type); }

const char* CallGetElementTypeName(int type) { return DtGetElementTypeName((DtElementType)type); }

const char* CallGetErrorCodeName(int code) { return DtGetErrorCodeName((DtErrorCode)code); }

const char* CallGetDeviceTypeName(int type) { return DtGetDeviceTypeName((DtDeviceType)type); }

DtStatus* CallCreateTensor(DtEnv* env, const DtDevice* device, int type, const int64_t* shape,
                           size_t rank, DtValue** tensor) {
  return DtCreateTensor(env, device, (DtElementType)type, shape, rank, tensor);
}

DtStatus* CallCreateTensorWithData(DtEnv* env, const DtDevice* device, void* data,
                                   size_t data_bytes, int type, const int64_t* shape, size_t rank,
                                   DtValue** tensor) {
  return DtCreateTensorWithData(env, device, data, data_bytes, 0, (DtElementType)type, shape, rank,
                                tensor);
}

DtStatus* CallCreateTensorView(const DtValue* base, int type, const int64_t* shape, size_t rank,
                               DtValue** view) {
  return DtCreateTensorView(base, 0, (DtElementType)type, shape, rank, view);
}

DtStatus* CallGetDevice(DtEnv* env, int type, int32_t id, const DtDevice** device) {
  return DtGetDevice(env, (DtDeviceType)type, id, device);
}

DtStatus* CallGetDeviceCount(DtEnv* env, int type, int32_t* count) {
  return DtGetDeviceCount(env, (DtDeviceType)type, count);
}

DtStatus* CallRunOpWithAttributeType(DtEnv* env, const char* op_type, const DtValue* const* inputs,
                                     size_t num_inputs, DtValue* const* outputs,
                                     size_t num_outputs, const char* attribute, int attribute_type) {
  DtAttribute a = {0};
  a.name = attribute;
  a.type = (DtAttributeType)attribute_type;
  a.i = 1;
  return DtRunOp(env, op_type, inputs, num_inputs, outputs, num_outputs, &a, 1, NULL);
}

DtStatus* CallGetOpSupport(DtEnv* env, const DtDevice* device, const char* op_type, int type,
                           int32_t* supported) {
  return DtGetOpSupport(env, device, op_type, (DtElementType)type, supported);
}
