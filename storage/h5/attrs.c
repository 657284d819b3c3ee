/*
 * h5/attrs.c -- metadata of HDF5 objects: attributes read into plain
 * memory (the extension turns them into NumPy values), the members of a
 * group, and the dimension scales attached to a dataset's axes.
 *
 * Locks: every function takes cw__h5_lock around all its HDF5 calls.
 */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "h5_impl.h"
#include "storage_impl.h"

/* ------------------------------------------------------------- types */

/* The native memory type and NumPy type string of a numeric (or bool, or
 * enum: its base integer type, as h5py reads it) HDF5 type; -1 if none. */
static hid_t
numeric_mem_type(hid_t type, char *typestr, size_t len)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if (cls == H5T_ENUM) {
        cw_dtype_t dt;
        bool swap;
        char desc[64];
        if (cw__h5_classify_type(type, &dt, &swap, desc, sizeof(desc)) == CW_OK &&
            dt == CW_BOOL) {
            snprintf(typestr, len, "|b1");
            return H5Tcopy(H5T_NATIVE_INT8);
        }
        hid_t super = H5Tget_super(type);
        hid_t mem = super < 0 ? -1 : numeric_mem_type(super, typestr, len);
        if (super >= 0) {
            H5Tclose(super);
        }
        return mem;
    }
    if (cls == H5T_BITFIELD && size == 1) {
        /* h5py reads an 8-bit bitfield (PyTables' bool) as uint8. */
        snprintf(typestr, len, "|u1");
        return H5Tcopy(H5T_NATIVE_B8);
    }
    if (cls == H5T_INTEGER && (size == 1 || size == 2 || size == 4 || size == 8)) {
        bool sgn = H5Tget_sign(type) != H5T_SGN_NONE;
        hid_t t = size == 1   ? (sgn ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8)
                  : size == 2 ? (sgn ? H5T_NATIVE_INT16 : H5T_NATIVE_UINT16)
                  : size == 4 ? (sgn ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT32)
                              : (sgn ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64);
        snprintf(typestr, len, "%c%c%zu", size == 1 ? '|' : '<', sgn ? 'i' : 'u', size);
        return H5Tcopy(t);
    }
    if (cls == H5T_FLOAT && (size == 4 || size == 8)) {
        snprintf(typestr, len, "<f%zu", size);
        return H5Tcopy(size == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE);
    }
    if (cls == H5T_FLOAT && size == 2) {
        cw_dtype_t dt;
        bool swap;
        char desc[64];
        if (cw__h5_classify_type(type, &dt, &swap, desc, sizeof(desc)) == CW_OK) {
            /* IEEE half: little-endian memory copy of the file type. */
            hid_t t = H5Tcopy(type);
            H5Tset_order(t, H5T_ORDER_LE);
            snprintf(typestr, len, "<f2");
            return t;
        }
    }
    if (cls == H5T_STRING && !H5Tis_variable_str(type)) {
        hid_t t = H5Tcopy(type);
        snprintf(typestr, len, "|S%zu", size);
        return t;
    }
    return -1;
}

static void
class_name(hid_t type, char *desc, size_t len)
{
    static const char *const names[] = {
        "integer", "float",    "time",      "string", "bitfield",
        "opaque",  "compound", "reference", "enum",   "variable-length sequence",
        "array"};
    H5T_class_t cls = H5Tget_class(type);
    snprintf(desc, len, "%s of %zu bytes",
             cls >= 0 && cls < (int)(sizeof(names) / sizeof(*names)) ? names[cls]
                                                                     : "unknown class",
             H5Tget_size(type));
}

/* Whether `type` is, or contains, an object or region reference. */
static bool
has_reference(hid_t type)
{
    H5T_class_t cls = H5Tget_class(type);
    if (cls == H5T_REFERENCE) {
        return true;
    }
    if (cls == H5T_VLEN || cls == H5T_ARRAY) {
        hid_t super = H5Tget_super(type);
        bool r = super >= 0 && has_reference(super);
        if (super >= 0) {
            H5Tclose(super);
        }
        return r;
    }
    if (cls == H5T_COMPOUND) {
        int nm = H5Tget_nmembers(type);
        for (int i = 0; i < nm; i++) {
            hid_t m = H5Tget_member_type(type, (unsigned)i);
            bool r = m >= 0 && has_reference(m);
            if (m >= 0) {
                H5Tclose(m);
            }
            if (r) {
                return true;
            }
        }
    }
    return false;
}

/* Whether `type` is a compound {r, i} of two IEEE floats of 4 or 8 bytes,
 * which h5py reads as complex. */
static bool
is_complex(hid_t type)
{
    if (H5Tget_nmembers(type) != 2) {
        return false;
    }
    bool ok = true;
    size_t size = 0;
    for (unsigned i = 0; ok && i < 2; i++) {
        char *mname = H5Tget_member_name(type, i);
        hid_t m = H5Tget_member_type(type, i);
        ok = mname != NULL && m >= 0 && strcmp(mname, i ? "i" : "r") == 0 &&
             H5Tget_class(m) == H5T_FLOAT &&
             (H5Tget_size(m) == 4 || H5Tget_size(m) == 8) &&
             (i == 0 || H5Tget_size(m) == size) &&
             H5Tget_member_offset(type, i) == i * H5Tget_size(m);
        if (ok) {
            size = H5Tget_size(m);
        }
        if (m >= 0) {
            H5Tclose(m);
        }
        H5free_memory(mname);
    }
    return ok && H5Tget_size(type) == 2 * size;
}

/* ------------------------------------------------------------- one attribute */

static int
read_one(hid_t attr, cw_attr_t *a)
{
    int rc = CW_OK;
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr), mem = -1;
    if (type < 0 || space < 0) {
        rc = cw__error(CW_EIO, "cannot read attribute '%s'", a->name);
        goto done;
    }
    H5S_class_t scls = H5Sget_simple_extent_type(space);
    a->scalar = scls == H5S_SCALAR;
    a->reference = has_reference(type);
    int nd = H5Sget_simple_extent_ndims(space);
    if (scls == H5S_NULL) {
        a->kind = CW_ATTR_UNSUPPORTED;
        snprintf(a->desc, sizeof(a->desc), "empty (null dataspace)");
        goto done;
    }
    if (nd < 0 || nd > CW_MAXDIM) {
        a->kind = CW_ATTR_UNSUPPORTED;
        snprintf(a->desc, sizeof(a->desc), "%d dimensions", nd);
        goto done;
    }
    a->ndim = nd;
    hsize_t dims[CW_MAXDIM];
    H5Sget_simple_extent_dims(space, dims, NULL);
    size_t count = 1;
    for (int d = 0; d < nd; d++) {
        a->shape[d] = (int64_t)dims[d];
        count *= (size_t)dims[d];
    }
    H5T_class_t cls = H5Tget_class(type);
    if (cls == H5T_STRING && H5Tis_variable_str(type) > 0) {
        a->kind = CW_ATTR_STRINGS;
        a->utf8 = H5Tget_cset(type) == H5T_CSET_UTF8;
        mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, H5T_VARIABLE);
        H5Tset_cset(mem, H5Tget_cset(type));
        char **raw = cw__calloc(count ? count : 1, sizeof(char *));
        a->strings = cw__calloc(count ? count : 1, sizeof(char *));
        if (raw == NULL || a->strings == NULL) {
            cw__free(raw);
            rc = cw__error(CW_ENOMEM, "out of memory");
            goto done;
        }
        if (H5Aread(attr, mem, raw) < 0) {
            cw__free(raw);
            rc = cw__error(CW_EIO, "cannot read attribute '%s'", a->name);
            goto done;
        }
        a->nstrings = count;
        for (size_t i = 0; i < count && rc == CW_OK; i++) {
            if (raw[i] != NULL) {
                size_t l = strlen(raw[i]);
                a->strings[i] = cw__malloc(l + 1);
                if (a->strings[i] == NULL) {
                    rc = cw__error(CW_ENOMEM, "out of memory");
                }
                else {
                    memcpy(a->strings[i], raw[i], l + 1);
                }
            }
        }
        H5Dvlen_reclaim(mem, space, H5P_DEFAULT, raw);
        cw__free(raw);
        goto done;
    }
    if (cls == H5T_COMPOUND && is_complex(type)) {
        /* h5py's complex: a compound {r, i} of two floats. */
        size_t half = H5Tget_size(type) / 2;
        mem = H5Tcreate(H5T_COMPOUND, 2 * half);
        hid_t f = half == 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
        H5Tinsert(mem, "r", 0, f);
        H5Tinsert(mem, "i", half, f);
        snprintf(a->typestr, sizeof(a->typestr), "%s", half == 4 ? "<c8" : "<c16");
        a->itemsize = 2 * half;
    }
    else if (cls == H5T_COMPOUND) {
        int nm = H5Tget_nmembers(type);
        a->fields = cw__calloc(nm > 0 ? (size_t)nm : 1, sizeof(*a->fields));
        if (a->fields == NULL) {
            rc = cw__error(CW_ENOMEM, "out of memory");
            goto done;
        }
        hid_t mtypes[64];
        size_t off = 0;
        bool ok = nm > 0 && nm <= 64;
        int made = 0;
        for (int i = 0; ok && i < nm; i++) {
            hid_t m = H5Tget_member_type(type, (unsigned)i);
            char *mname = H5Tget_member_name(type, (unsigned)i);
            mtypes[i] = m < 0 ? -1
                              : numeric_mem_type(m, a->fields[i].typestr,
                                                 sizeof(a->fields[i].typestr));
            ok = mtypes[i] >= 0 && mname != NULL;
            made = mtypes[i] >= 0 ? i + 1 : i;
            if (mname != NULL) {
                snprintf(a->fields[i].name, sizeof(a->fields[i].name), "%s", mname);
                H5free_memory(mname);
            }
            if (m >= 0) {
                H5Tclose(m);
            }
            if (ok) {
                a->fields[i].offset = off;
                off += H5Tget_size(mtypes[i]);
            }
        }
        if (ok) {
            mem = H5Tcreate(H5T_COMPOUND, off);
            for (int i = 0; mem >= 0 && i < nm; i++) {
                H5Tinsert(mem, a->fields[i].name, a->fields[i].offset, mtypes[i]);
            }
            a->nfields = nm;
            a->itemsize = off;
        }
        for (int i = 0; i < made; i++) {
            H5Tclose(mtypes[i]);
        }
        if (!ok || mem < 0) {
            a->kind = CW_ATTR_UNSUPPORTED;
            a->nfields = 0;
            snprintf(a->desc, sizeof(a->desc), "compound with non-numeric members");
            goto done;
        }
    }
    else {
        mem = numeric_mem_type(type, a->typestr, sizeof(a->typestr));
        if (mem < 0) {
            a->kind = CW_ATTR_UNSUPPORTED;
            class_name(type, a->desc, sizeof(a->desc));
            goto done;
        }
        a->itemsize = H5Tget_size(mem);
    }
    a->kind = CW_ATTR_VALUE;
    a->nbytes = count * a->itemsize;
    a->data = cw__malloc(a->nbytes ? a->nbytes : 1);
    if (a->data == NULL) {
        rc = cw__error(CW_ENOMEM, "out of memory");
        goto done;
    }
    if (count && H5Aread(attr, mem, a->data) < 0) {
        rc = cw__error(CW_EIO, "cannot read attribute '%s'", a->name);
        cw__h5_error_detail();
    }
done:
    if (mem >= 0) {
        H5Tclose(mem);
    }
    if (space >= 0) {
        H5Sclose(space);
    }
    if (type >= 0) {
        H5Tclose(type);
    }
    return rc;
}

typedef struct attr_list {
    cw_attr_t *items;
    size_t n, cap;
    int rc;
} attr_list_t;

static herr_t
attr_visit(hid_t obj, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
    attr_list_t *l = data;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        cw_attr_t *p = cw__realloc(l->items, cap * sizeof(*p));
        if (p == NULL) {
            l->rc = cw__error(CW_ENOMEM, "out of memory");
            return -1;
        }
        l->items = p;
        l->cap = cap;
    }
    cw_attr_t *a = &l->items[l->n++];
    memset(a, 0, sizeof(*a));
    snprintf(a->name, sizeof(a->name), "%s", name);
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0) {
        a->kind = CW_ATTR_UNSUPPORTED;
        snprintf(a->desc, sizeof(a->desc), "unreadable");
        return 0;
    }
    int rc = read_one(attr, a);
    H5Aclose(attr);
    if (rc < 0) {
        l->rc = rc;
        return -1;
    }
    return 0;
}

static int
open_object(const char *path, const char *name, hid_t *file, hid_t *obj)
{
    int rc = cw__h5_open_file(path, H5F_ACC_RDONLY, file);
    if (rc < 0) {
        return rc;
    }
    if (!cw__h5_path_exists(*file, name)) {
        cw__h5_close_file(*file);
        *file = -1;
        return cw__error(CW_ENOKEY, "no object '%s' in '%s'", name, path);
    }
    *obj = H5Oopen(*file, name, H5P_DEFAULT);
    if (*obj < 0) {
        cw__h5_close_file(*file);
        *file = -1;
        return cw__error(CW_EIO, "cannot open '%s' in '%s'", name, path);
    }
    return CW_OK;
}

int
cw_attrs_read(const char *path, const char *name, cw_attr_t **out, size_t *n)
{
    int rc = CW_OK;
    hid_t file = -1, obj = -1;
    attr_list_t l = {0};
    *out = NULL;
    *n = 0;
    cw__h5_lock();
    rc = open_object(path, name, &file, &obj);
    if (rc < 0) {
        cw__h5_unlock();
        return rc;
    }
    /* Creation order when the object tracks it (h5py and netCDF-4 files
     * do), else name order: what h5py's attrs iterate in. */
    H5_index_t idx = H5_INDEX_NAME;
    hid_t cpl = -1;
    H5I_type_t it = H5Iget_type(obj);
    cpl = it == H5I_DATASET ? H5Dget_create_plist(obj)
          : it == H5I_GROUP ? H5Gget_create_plist(obj)
                            : -1;
    unsigned crt = 0;
    if (cpl >= 0 && H5Pget_attr_creation_order(cpl, &crt) >= 0 &&
        (crt & H5P_CRT_ORDER_TRACKED)) {
        idx = H5_INDEX_CRT_ORDER;
    }
    if (cpl >= 0) {
        H5Pclose(cpl);
    }
    hsize_t pos = 0;
    if (H5Aiterate2(obj, idx, H5_ITER_INC, &pos, attr_visit, &l) < 0) {
        rc =
            l.rc < 0 ? l.rc : cw__error(CW_EIO, "cannot list attributes of '%s'", name);
    }
    H5Oclose(obj);
    cw__h5_close_file(file);
    cw__h5_unlock();
    if (rc < 0) {
        cw_attrs_free(l.items, l.n);
        return rc;
    }
    *out = l.items;
    *n = l.n;
    return CW_OK;
}

void
cw_attrs_free(cw_attr_t *attrs, size_t n)
{
    for (size_t i = 0; attrs != NULL && i < n; i++) {
        cw__free(attrs[i].data);
        cw__free(attrs[i].fields);
        for (size_t k = 0; attrs[i].strings != NULL && k < attrs[i].nstrings; k++) {
            cw__free(attrs[i].strings[k]);
        }
        cw__free(attrs[i].strings);
    }
    cw__free(attrs);
}

/* ------------------------------------------------------------- groups */

typedef struct member_list {
    cw_member_t *items;
    size_t n, cap;
    int rc;
} member_list_t;

static herr_t
member_visit(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    member_list_t *l = data;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        cw_member_t *p = cw__realloc(l->items, cap * sizeof(*p));
        if (p == NULL) {
            l->rc = cw__error(CW_ENOMEM, "out of memory");
            return -1;
        }
        l->items = p;
        l->cap = cap;
    }
    cw_member_t *m = &l->items[l->n++];
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->kind = 2;
    if (H5Oexists_by_name(group, name, H5P_DEFAULT) > 0) {
        H5O_info_t oi;
        if (H5Oget_info_by_name(group, name, &oi, H5P_DEFAULT) >= 0) {
            m->kind = oi.type == H5O_TYPE_DATASET ? 0
                      : oi.type == H5O_TYPE_GROUP ? 1
                                                  : 2;
        }
    }
    return 0;
}

int
cw_group_list(const char *path, const char *name, cw_member_t **out, size_t *n)
{
    int rc = CW_OK;
    hid_t file = -1, obj = -1;
    member_list_t l = {0};
    *out = NULL;
    *n = 0;
    cw__h5_lock();
    if (strcmp(name, "/") == 0) {
        rc = cw__h5_open_file(path, H5F_ACC_RDONLY, &file);
        obj = rc < 0 ? -1 : H5Oopen(file, "/", H5P_DEFAULT);
        if (rc == CW_OK && obj < 0) {
            rc = cw__error(CW_EIO, "cannot open the root group of '%s'", path);
        }
    }
    else {
        rc = open_object(path, name, &file, &obj);
    }
    if (rc == CW_OK && H5Iget_type(obj) != H5I_GROUP) {
        rc = cw__error(CW_ETYPE, "'%s' in '%s' is not a group", name, path);
    }
    if (rc == CW_OK &&
        H5Literate(obj, H5_INDEX_NAME, H5_ITER_INC, NULL, member_visit, &l) < 0) {
        rc = l.rc < 0 ? l.rc : cw__error(CW_EIO, "cannot list group '%s'", name);
    }
    if (obj >= 0) {
        H5Oclose(obj);
    }
    if (file >= 0) {
        cw__h5_close_file(file);
    }
    cw__h5_unlock();
    if (rc < 0) {
        cw__free(l.items);
        return rc;
    }
    *out = l.items;
    *n = l.n;
    return CW_OK;
}

void
cw_members_free(cw_member_t *members)
{
    cw__free(members);
}

/* ------------------------------------------------------------- dimension scales */

/* The NAME attribute of `obj` (fixed or variable-length string), or "". */
static void
scale_name(hid_t obj, char *out, size_t len)
{
    out[0] = '\0';
    if (H5Aexists(obj, "NAME") <= 0) {
        return;
    }
    hid_t attr = H5Aopen(obj, "NAME", H5P_DEFAULT);
    hid_t type = attr < 0 ? -1 : H5Aget_type(attr);
    if (type >= 0 && H5Tget_class(type) == H5T_STRING) {
        hid_t mem = H5Tcopy(H5T_C_S1);
        if (H5Tis_variable_str(type) > 0) {
            char *s = NULL;
            H5Tset_size(mem, H5T_VARIABLE);
            if (H5Aread(attr, mem, &s) >= 0 && s != NULL) {
                snprintf(out, len, "%s", s);
                H5free_memory(s);
            }
        }
        else {
            size_t size = H5Tget_size(type);
            char buf[512];
            if (size < sizeof(buf)) {
                H5Tset_size(mem, size + 1);
                H5Tset_strpad(mem, H5T_STR_NULLTERM);
                if (H5Aread(attr, mem, buf) >= 0) {
                    buf[size] = '\0';
                    size_t l = strlen(buf) < len - 1 ? strlen(buf) : len - 1;
                    memcpy(out, buf, l);
                    out[l] = '\0';
                }
            }
        }
        H5Tclose(mem);
    }
    if (type >= 0) {
        H5Tclose(type);
    }
    if (attr >= 0) {
        H5Aclose(attr);
    }
}

int
cw_dims_read(const char *path, const char *name, cw_dimscale_t *out, int *ndim)
{
    int rc = CW_OK;
    hid_t file = -1, obj = -1;
    *ndim = 0;
    cw__h5_lock();
    rc = open_object(path, name, &file, &obj);
    if (rc < 0) {
        cw__h5_unlock();
        return rc;
    }
    if (H5Iget_type(obj) != H5I_DATASET) {
        rc = cw__error(CW_ETYPE, "'%s' in '%s' is not a dataset", name, path);
        goto done;
    }
    hid_t space = H5Dget_space(obj);
    int nd = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (space >= 0) {
        H5Sclose(space);
    }
    if (nd < 0 || nd > CW_MAXDIM) {
        rc = cw__error(CW_EIO, "cannot read the dataspace of '%s'", name);
        goto done;
    }
    *ndim = nd;
    memset(out, 0, (size_t)nd * sizeof(*out));
    if (nd == 0 || H5Aexists(obj, "DIMENSION_LIST") <= 0) {
        goto done;
    }
    hid_t attr = H5Aopen(obj, "DIMENSION_LIST", H5P_DEFAULT);
    hid_t aspace = attr < 0 ? -1 : H5Aget_space(attr);
    hid_t vl = H5Tvlen_create(H5T_STD_REF_OBJ);
    hvl_t lists[CW_MAXDIM];
    memset(lists, 0, sizeof(lists));
    if (aspace >= 0 && H5Sget_simple_extent_npoints(aspace) == nd &&
        H5Aread(attr, vl, lists) >= 0) {
        for (int d = 0; d < nd; d++) {
            if (lists[d].len < 1 || lists[d].p == NULL) {
                continue;
            }
            hobj_ref_t *ref = lists[d].p;
            hid_t scale = H5Rdereference2(obj, H5P_DEFAULT, H5R_OBJECT, ref);
            if (scale < 0) {
                continue;
            }
            if (H5Iget_name(scale, out[d].path, sizeof(out[d].path)) <= 0) {
                out[d].path[0] = '\0';
            }
            scale_name(scale, out[d].name, sizeof(out[d].name));
            H5Oclose(scale);
        }
        H5Dvlen_reclaim(vl, aspace, H5P_DEFAULT, lists);
    }
    H5Tclose(vl);
    if (aspace >= 0) {
        H5Sclose(aspace);
    }
    if (attr >= 0) {
        H5Aclose(attr);
    }
done:
    H5Oclose(obj);
    cw__h5_close_file(file);
    cw__h5_unlock();
    return rc;
}
