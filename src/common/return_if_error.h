// Status propagation for code that reports errors as DtStatus* (NULL on success): the core, the
// ops and the providers alike.
#ifndef DEVTENSOR_COMMON_RETURN_IF_ERROR_H_
#define DEVTENSOR_COMMON_RETURN_IF_ERROR_H_

// Returns from the enclosing function when `expr`, a DtStatus*, is an error (not NULL).
#define DT_RETURN_IF_ERROR(expr)                    \
  do {                                              \
    DtStatus* dt_status_ = (expr);                  \
    if (dt_status_ != nullptr) return dt_status_;   \
  } while (0)

#endif  // DEVTENSOR_COMMON_RETURN_IF_ERROR_H_
