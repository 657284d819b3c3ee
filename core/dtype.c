/*
 * dtype.c -- the element types' sizes and NumPy names.
 */
#include "core_impl.h"

#define SIZE_OF(NAME, STR, SIZE) [CW_##NAME] = SIZE,
#define NAME_OF(NAME, STR, SIZE) [CW_##NAME] = STR,
static const size_t dtype_sizes[CW_NDTYPES] = {CW_DTYPE_MAP(SIZE_OF)};
static const char *const dtype_names[CW_NDTYPES] = {CW_DTYPE_MAP(NAME_OF)};

/* The table's sizes are the C types' sizes. */
#define SIZE_CHECK(NAME, STR, SIZE) \
    _Static_assert(sizeof(CW__CTYPE(NAME)) == SIZE, STR " has " #SIZE " bytes");
CW_DTYPE_MAP(SIZE_CHECK)

size_t
cw_dtype_size(cw_dtype_t dtype)
{
    return (unsigned)dtype < CW_NDTYPES ? dtype_sizes[dtype] : 0;
}

size_t
cw__dtype_part_size(cw_dtype_t dtype)
{
    size_t size = cw_dtype_size(dtype);
    return dtype == CW_COMPLEX64 || dtype == CW_COMPLEX128 ? size / 2 : size;
}

const char *
cw_dtype_name(cw_dtype_t dtype)
{
    return (unsigned)dtype < CW_NDTYPES ? dtype_names[dtype] : "invalid";
}
