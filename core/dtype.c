/*
 * dtype.c -- the element types' sizes and NumPy names.
 */
#include "core_impl.h"

static const size_t dtype_sizes[CW_NDTYPES] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8};
static const char *const dtype_names[CW_NDTYPES] = {
    "bool",   "int8",   "int16",  "int32",   "int64",   "uint8",
    "uint16", "uint32", "uint64", "float16", "float32", "float64"};

size_t
cw_dtype_size(cw_dtype_t dtype)
{
    return (unsigned)dtype < CW_NDTYPES ? dtype_sizes[dtype] : 0;
}

const char *
cw_dtype_name(cw_dtype_t dtype)
{
    return (unsigned)dtype < CW_NDTYPES ? dtype_names[dtype] : "invalid";
}
