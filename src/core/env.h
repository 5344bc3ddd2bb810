// The environment: the registry of providers and, through their factories, of data transfers.
#ifndef DEVTENSOR_CORE_ENV_H_
#define DEVTENSOR_CORE_ENV_H_

#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/provider_instance.h"

struct DtEnv {
  mutable std::shared_mutex mutex;
  // Registration order; the built-in CPU provider first, always.
  std::vector<std::shared_ptr<devtensor::ProviderInstance>> providers;
  // Why each provider library that ships with devtensor did not load, one line each (for
  // DtGetProviderLoadErrors and DtGetDevice's DT_NOT_FOUND).
  std::string provider_load_errors;
};

namespace devtensor {

// A data transfer chosen for a copy. `keep_alive` holds its provider when nothing else of the copy
// does (it is not the provider of either device).
struct TransferChoice {
  FactoryInstance* factory = nullptr;
  std::shared_ptr<ProviderInstance> keep_alive;
};

// Finds a transfer that copies src -> dst: the env's device providers in registration order, then
// the CPU provider, then the providers the devices belong to (which may be registered elsewhere).
bool FindTransfer(const DtEnv& env, const DtDevice* src, const DtDevice* dst,
                  TransferChoice* choice);

// The env's CPU device.
const DtDevice* CpuDevice(const DtEnv& env);

// True while `provider` is registered in `env`.
bool IsRegistered(const DtEnv& env, const ProviderInstance* provider);

}  // namespace devtensor

#endif  // DEVTENSOR_CORE_ENV_H_
