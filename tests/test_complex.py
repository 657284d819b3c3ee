"""complex64 and complex128: ufuncs, reductions, parts, HDF5 {r, i}
compounds read and written, FFT results, refused dtypes.

Every elementwise result is compared with NumPy's bit for bit (the engine
runs NumPy's own inner loops); reductions within pairwise-sum tolerance
where NumPy's summation order differs, exactly otherwise.
"""
import ctypes
import warnings

import h5py
import hdf5plugin
import numpy as np
import pytest
import tables

import chunkwise as cw

COMPLEX = [np.complex64, np.complex128]


def _edge_values(dtype):
    parts = [0.0, -0.0, 1.0, -2.5, 0.5, np.inf, -np.inf, np.nan, 1e-30, 3.0]
    re, im = np.meshgrid(parts, parts)
    v = (re + 1j * im).ravel()
    return v.astype(dtype).reshape(10, 10)


def _same_bits(r, e):
    r, e = np.asarray(r), np.asarray(e)
    assert r.dtype == e.dtype and r.shape == e.shape
    assert r.tobytes() == e.tobytes(), (r, e)


def _ufuncs():
    out = []
    for name in sorted(dir(np)):
        u = getattr(np, name)
        if isinstance(u, np.ufunc) and u.signature is None and u.nout == 1 and \
                any(t.split("->")[0] in ("F" * u.nin, "D" * u.nin) for t in u.types):
            out.append(u)
    return out


UFUNCS = _ufuncs()


def test_the_list_of_complex_ufuncs_is_long():
    assert len(UFUNCS) >= 30


@pytest.mark.parametrize("dtype", COMPLEX, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("ufunc", UFUNCS, ids=lambda u: u.__name__)
def test_every_complex_ufunc_matches_numpy_bit_for_bit(ufunc, dtype):
    a = _edge_values(dtype)
    b = a.T.copy()
    args = (a, b)[:ufunc.nin]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expect = ufunc(*args)
        lazy = ufunc(*[cw.asarray(x, chunks=(3, 4)) for x in args])
        assert isinstance(lazy, cw.Array)
        got = lazy.compute()
    _same_bits(got, expect)


@pytest.mark.parametrize("dtype", COMPLEX, ids=lambda d: np.dtype(d).name)
def test_complex_scalars_are_weak_as_in_numpy(dtype):
    a = _edge_values(dtype)
    x = cw.asarray(a)
    for got, expect in [(x * 1j, a * 1j), (x + (2 - 3j), a + (2 - 3j)), (x * 2, a * 2),
                        (x / 3.0, a / 3.0), (x == 1, a == 1)]:
        with np.errstate(all="ignore"):
            _same_bits(got.compute(), expect)


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


SHAPES = [((40,), (7,)), ((13, 17), (4, 5)), ((6, 5, 9), (2, 5, 4))]


@pytest.mark.parametrize("dtype", COMPLEX, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape,chunks", SHAPES, ids=str)
def test_reductions_match_numpy(shape, chunks, dtype):
    a = _data(shape, dtype)
    a.flat[3] = a.flat[5]  # ties for argmax/argmin
    x = cw.asarray(a, chunks=chunks)
    tol = dict(rtol=1e-5 if dtype == np.complex64 else 1e-12)
    for axis in [None, 0, -1]:
        for name in ["sum", "mean", "prod"]:
            got = getattr(x, name)(axis=axis).compute()
            expect = getattr(a, name)(axis=axis)
            assert got.dtype == expect.dtype
            np.testing.assert_allclose(got, expect, **tol)
        for name in ["var", "std"]:
            got = getattr(x, name)(axis=axis).compute()
            expect = getattr(a, name)(axis=axis)
            assert got.dtype == expect.dtype  # real, as NumPy's
            np.testing.assert_allclose(got, expect, **tol)
        for name in ["max", "min", "argmax", "argmin", "any", "all"]:
            got = getattr(x, name)(axis=axis).compute()
            _same_bits(got, getattr(a, name)(axis=axis))
        np.testing.assert_allclose(np.nansum(x, axis=axis).compute(),
                                   np.nansum(a, axis=axis), **tol)
    for axis in range(len(shape)):
        np.testing.assert_allclose(np.cumsum(x, axis=axis).compute(),
                                   np.cumsum(a, axis=axis), **tol)


@pytest.mark.parametrize("dtype", COMPLEX, ids=lambda d: np.dtype(d).name)
def test_argmax_orders_lexicographically_and_nan_wins(dtype):
    a = np.array([1 + 5j, 2 + 0j, 2 + 1j, 2 + 1j, -3 + 9j], dtype)
    x = cw.asarray(a, chunks=(2,))
    assert x.argmax().compute() == a.argmax() == 2
    assert x.argmin().compute() == a.argmin() == 4
    a[3] = complex(1, np.nan)
    x = cw.asarray(a, chunks=(2,))
    assert x.argmax().compute() == a.argmax() == 3
    assert x.argmin().compute() == a.argmin() == 3


@pytest.mark.parametrize("dtype", COMPLEX + [np.float64, np.int32],
                         ids=lambda d: np.dtype(d).name)
def test_parts_and_angles(dtype):
    a = _edge_values(np.complex128).astype(dtype) if np.dtype(dtype).kind == "c" \
        else np.arange(-6, 6).astype(dtype).reshape(3, 4)
    x = cw.asarray(a, chunks=(2, 3))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        cases = [(x.real, a.real), (x.imag, a.imag), (np.real(x), np.real(a)),
                 (np.imag(x), np.imag(a)), (x.conj(), a.conj()),
                 (x.conjugate(), a.conjugate()), (np.conj(x), np.conj(a)),
                 (np.angle(x), np.angle(a)), (np.angle(x, deg=True), np.angle(a, deg=True)),
                 (np.abs(x), np.abs(a)), (np.iscomplex(x), np.iscomplex(a)),
                 (np.isreal(x), np.isreal(a))]
        for got, expect in cases:
            assert isinstance(got, cw.Array)
            _same_bits(got.compute(), expect)
    assert np.iscomplexobj(x) == np.iscomplexobj(a)
    assert np.isrealobj(x) == np.isrealobj(a)


def test_real_if_close():
    a = np.array([1 + 1e-20j, 2 - 1e-19j, 3 + 0j])
    x = cw.asarray(a, chunks=(2,))
    got = np.real_if_close(x)
    assert isinstance(got, cw.Array)
    _same_bits(got.compute(), np.real_if_close(a))
    b = a + 1j
    _same_bits(np.real_if_close(cw.asarray(b)).compute(), np.real_if_close(b))


def test_casts_follow_numpy_unsafe_astype():
    a = _edge_values(np.complex128)
    x = cw.asarray(a, chunks=(3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        for dt in ["c8", "f8", "f4", "?"]:
            _same_bits(x.astype(dt).compute(), a.astype(dt))
    r = np.arange(-5, 5, dtype=np.int16)
    for dt in ["c8", "c16"]:
        _same_bits(cw.asarray(r).astype(dt).compute(), r.astype(dt))
    _same_bits(cw.full((3, 2), 1 - 2j).compute(), np.full((3, 2), 1 - 2j))
    _same_bits(cw.zeros((4,), dtype="c8").compute(), np.zeros((4,), dtype="c8"))
    assert cw.asarray(np.zeros(3, "c8")).dtype == np.complex64


# ------------------------------------------------------------------- HDF5

FILTERS = {
    "raw": {},
    "contiguous": None,
    "gzip-shuffle": dict(compression="gzip", shuffle=True),
    "blosc-lz4": dict(hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE)),
    "blosc-zstd-bit": dict(hdf5plugin.Blosc(cname="zstd", clevel=3,
                                            shuffle=hdf5plugin.Blosc.BITSHUFFLE)),
}
ORDERS = ["<c8", ">c8", "<c16", ">c16"]


@pytest.mark.parametrize("flt", FILTERS, ids=str)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("shape,chunks", SHAPES[1:], ids=str)
def test_h5py_complex_datasets_read_exactly(tmp_path, flt, order, shape, chunks):
    a = _data(shape, order)
    p = str(tmp_path / "c.h5")
    kw = FILTERS[flt]
    with h5py.File(p, "w") as f:
        if kw is None:
            f.create_dataset("z", data=a)
        else:
            f.create_dataset("z", data=a, chunks=chunks, **kw)
    x = cw.open(p, "z")
    assert x.dtype == np.dtype(order).newbyteorder("=")
    cw.reset_stats()
    got = x.compute()
    _same_bits(got, a.astype(x.dtype))
    if flt in ("gzip-shuffle", "blosc-lz4", "blosc-zstd-bit"):
        s = cw.stats()
        assert s["chunks_pipeline"] == 0 and s["chunks_lockfree"] > 0  # native decode
    sl = (slice(1, None, 2),) + (slice(None, None, -3),) * (len(shape) - 1)
    _same_bits(x[sl].compute(), a[sl].astype(x.dtype))
    _same_bits((x * (1 - 1j)).compute(), a.astype(x.dtype) * x.dtype.type(1 - 1j))
    np.testing.assert_allclose(x.sum(axis=0).compute(), a.sum(axis=0),
                               rtol=1e-5 if x.dtype == np.complex64 else 1e-12)


def test_pytables_complex_arrays_read_exactly(tmp_path):
    p = str(tmp_path / "t.h5")
    a = _data((30, 11), np.complex128)
    with tables.open_file(p, "w") as t:
        t.create_carray("/", "z8", obj=a.astype("c8"), chunkshape=(7, 4),
                        filters=tables.Filters(5, "blosc:lz4", shuffle=True))
        t.create_carray("/", "z16", obj=a, chunkshape=(7, 4), filters=tables.Filters(4, "zlib"))
        t.create_array("/", "plain", obj=a[:3])
    _same_bits(cw.open(p, "z8").compute(), a.astype("c8"))
    _same_bits(cw.open(p, "z16").compute(), a)
    _same_bits(cw.open(p, "plain").compute(), a[:3])


@pytest.mark.parametrize("dtype", COMPLEX, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("compression", [None, "gzip", "blosc-lz4"])
def test_stores_read_back_in_h5py_and_pytables(tmp_path, dtype, compression):
    p = str(tmp_path / "o.h5")
    a = _data((25, 9), dtype)
    x = cw.asarray(a, chunks=(8, 4))
    (x * 1j + 1).to_hdf5(p, "o", compression=compression)
    expect = a * dtype(1j) + dtype(1)
    with h5py.File(p) as f:
        assert f["o"].dtype == np.dtype(dtype)
        _same_bits(f["o"][...], expect)
        assert f["o"].dtype.names is None
    with tables.open_file(p) as t:
        _same_bits(t.root.o[...], expect)
    _same_bits(cw.open(p, "o").compute(), expect)


def test_compounds_that_are_not_complex_are_refused_with_their_description(tmp_path):
    p = str(tmp_path / "s.h5")
    with h5py.File(p, "w") as f:
        f.create_dataset("s", data=np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")]))
        f.create_dataset("names", data=np.zeros(3, dtype=[("re", "<f8"), ("im", "<f8")]))
        f.create_dataset("mixed", data=np.zeros(3, dtype=[("r", "<f8"), ("i", "<f4")]))
    for name in ["s", "names", "mixed"]:
        with pytest.raises(TypeError, match="compound"):
            cw.open(p, name)


# -------------------------------------------------------------------- FFT

@pytest.mark.parametrize("func", ["fft", "ifft", "rfft", "fft2", "fftn", "rfftn", "hfft"])
def test_fft_results_come_back_as_chunked_complex_arrays(func):
    a = np.arange(48.0).reshape(6, 8) ** 1.5
    f = getattr(np.fft, func)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cw.FallbackWarning)
        got = f(cw.asarray(a, chunks=(3, 3)))
        got_c = None if func.startswith("r") else f(cw.asarray(a + 1j, chunks=(3, 3)))
    assert isinstance(got, cw.Array)
    _same_bits(got.compute(), f(a))
    if got_c is not None:
        _same_bits(got_c.compute(), f(a + 1j))
    if func == "rfft":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", cw.FallbackWarning)
            back = np.fft.irfft(got, n=8)
        _same_bits(back.compute(), np.fft.irfft(f(a), n=8))


# -------------------------------------------------------- refused dtypes

@pytest.mark.parametrize("value", [
    np.zeros(3, dtype=np.clongdouble), np.zeros(3, dtype=np.longdouble),
    np.zeros(3, dtype=[("a", "f4")]), np.array(["x"]), np.array([object()]),
    np.zeros(3, dtype="M8[s]")], ids=lambda v: str(v.dtype))
def test_unsupported_dtypes_are_a_type_error_naming_them(value):
    with pytest.raises(TypeError, match="unsupported dtype"):
        cw.asarray(value)


class _Tensor:
    """A CPU DLPack producer of a real NumPy buffer whose DLTensor says it
    holds another type (bfloat16: code 4, 16 bits), as a torch bfloat16
    tensor's capsule does."""

    def __init__(self, code, bits):
        self.base = np.zeros(4, np.uint16)
        self.code, self.bits = code, bits

    def __dlpack__(self, **kw):
        cap = self.base.__dlpack__()
        get = ctypes.pythonapi.PyCapsule_GetPointer
        get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        ptr = get(cap, b"dltensor")
        # DLTensor: data (8 bytes), device (8), ndim (4), then dtype.
        ctypes.c_uint8.from_address(ptr + 20).value = self.code
        ctypes.c_uint8.from_address(ptr + 21).value = self.bits
        return cap

    def __dlpack_device__(self):
        return (1, 0)


@pytest.mark.parametrize("code,bits,name", [(4, 16, "bfloat16"), (12, 8, "float8_e5m2")])
def test_dlpack_tensors_of_unsupported_dtypes_are_a_type_error_naming_them(code, bits, name):
    with pytest.raises(TypeError, match=f"unsupported dtype {name}"):
        cw.asarray(_Tensor(code, bits))


def test_dlpack_tensors_of_supported_dtypes_are_taken():
    t = _Tensor(1, 16)  # uint16, as the buffer is
    t.base[:] = [1, 2, 3, 4]
    _same_bits(cw.asarray(t).compute(), t.base)
