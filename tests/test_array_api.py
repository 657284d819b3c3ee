"""The array API namespace (chunkwise.array_api) against NumPy and the
standard's reference implementation, array-api-strict."""
import warnings

import numpy as np
import pytest

import chunkwise as cw
from chunkwise import array_api as xp

compat = pytest.importorskip("array_api_compat")

RNG = np.random.default_rng(11)
F = RNG.standard_normal((6, 5))
I32 = RNG.integers(-50, 50, (6, 5)).astype(np.int32)


def _c(a):
    return xp.asarray(a)


def _eq(got, want):
    assert isinstance(got, cw.Array), type(got)
    want = np.asarray(want)
    got = got.compute()
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_namespace_is_recognised():
    x = cw.asarray(F)
    assert compat.is_array_api_obj(x)
    assert compat.array_namespace(x) is xp
    assert compat.array_namespace(x, _c(I32)) is xp
    assert x.__array_namespace__(api_version="2023.12") is xp
    assert x.__array_namespace__() is xp
    with pytest.raises(ValueError):
        x.__array_namespace__(api_version="2011.01")
    assert xp.__array_api_version__ == "2024.12"


def test_array_attributes():
    x = _c(F)
    assert x.device == "cpu" and x.to_device("cpu") is x
    with pytest.raises(ValueError):
        x.to_device("gpu")
    _eq(x.mT, F.T)
    _eq(x.T, F.T)
    assert (x.ndim, x.shape, x.size, x.dtype) == (2, (6, 5), 30, xp.float64)
    with pytest.raises(TypeError, match="read-only"):
        x[0] = 1


def test_inspection():
    info = xp.__array_namespace_info__()
    assert info.default_device() == "cpu" and info.devices() == ["cpu"]
    assert info.default_dtypes() == {"real floating": xp.float64,
                                     "complex floating": xp.complex128,
                                     "integral": xp.int64, "indexing": xp.int64}
    assert len(info.dtypes()) == 13
    assert set(info.dtypes(kind="signed integer")) == {"int8", "int16", "int32", "int64"}
    assert set(info.dtypes(kind=("real floating", "bool"))) == {"float32", "float64",
                                                               "bool"}
    caps = info.capabilities()
    assert caps["boolean indexing"] and caps["data-dependent shapes"]


def test_creation_matches_numpy():
    _eq(xp.arange(10), np.arange(10))
    _eq(xp.arange(1, 7, 2, dtype=xp.int16), np.arange(1, 7, 2, dtype=np.int16))
    _eq(xp.arange(0.5, 3), np.arange(0.5, 3))
    _eq(xp.zeros((2, 3), dtype=xp.int8), np.zeros((2, 3), np.int8))
    _eq(xp.ones(4), np.ones(4))
    _eq(xp.full((2,), 3), np.full((2,), 3, np.int64))
    _eq(xp.full((2,), True), np.full((2,), True))
    _eq(xp.full((2,), 1.5, dtype=xp.float32), np.full((2,), 1.5, np.float32))
    _eq(xp.eye(3, 4, k=1), np.eye(3, 4, k=1))
    for k in (-2**63, -3, 4, 2**63 - 1):
        _eq(xp.eye(3, 4, k=k), np.eye(3, 4, k=k))
    _eq(xp.linspace(0, 1, num=7), np.linspace(0, 1, 7))
    _eq(xp.linspace(0, 1, num=7, endpoint=False), np.linspace(0, 1, 7, endpoint=False))
    _eq(xp.tril(_c(F), k=-1), np.tril(F, -1))
    _eq(xp.triu(_c(F)), np.triu(F))
    _eq(xp.zeros_like(_c(I32)), np.zeros_like(I32))
    _eq(xp.full_like(_c(I32), 7), np.full_like(I32, 7))
    assert xp.empty((3,)).shape == (3,)
    for got, want in zip(xp.meshgrid(xp.arange(3), xp.arange(2), indexing="ij"),
                         np.meshgrid(np.arange(3), np.arange(2), indexing="ij")):
        _eq(got, want)
    _eq(xp.from_dlpack(F), F)
    with pytest.raises(ValueError):
        xp.zeros(3, device="gpu")


def test_asarray_copy_and_dtypes():
    a = np.arange(5.0)
    x = xp.asarray(a, copy=True)
    a[0] = 10
    assert x.compute()[0] == 0
    _eq(xp.asarray([1, 2]), np.array([1, 2], np.int64))
    _eq(xp.asarray([True, False]), np.array([True, False]))
    _eq(xp.asarray([1, 2.5]), np.array([1, 2.5]))
    _eq(xp.asarray(3, dtype=xp.uint8), np.uint8(3))
    y = xp.asarray(F)
    assert xp.asarray(y) is y
    with pytest.raises(ValueError):
        xp.asarray(y, dtype=xp.float32, copy=False)
    _eq(xp.asarray(y, dtype=xp.float32), F.astype(np.float32))


def test_promotion_against_array_api_strict():
    strict = pytest.importorskip("array_api_strict")
    names = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
             "uint64", "float32", "float64", "complex64", "complex128"]
    checked = 0
    for a in names:
        for b in names:
            try:
                want = strict.result_type(getattr(strict, a), getattr(strict, b))
            except TypeError:
                continue  # not in the standard's table (NumPy's promotion here)
            got = xp.result_type(getattr(xp, a), getattr(xp, b))
            assert str(got) == str(want).split(".")[-1], (a, b)
            x = xp.ones(2, dtype=getattr(xp, a)) if a != "bool" else xp.asarray([True])
            y = xp.ones(2, dtype=getattr(xp, b)) if b != "bool" else xp.asarray([True])
            assert str((x == y).dtype) == "bool"
            if "bool" not in (a, b):
                assert str(xp.add(x, y).dtype) == str(want).split(".")[-1], (a, b)
            checked += 1
    assert checked == 73  # the pairs of the standard's promotion table
    # Python scalars take the array's dtype.
    for name in ("int8", "uint16", "float32", "complex64"):
        x = xp.ones(3, dtype=getattr(xp, name))
        assert (x + 1).dtype == getattr(xp, name)
        assert xp.multiply(x, 2).dtype == getattr(xp, name)
    assert (xp.ones(3, dtype=xp.float32) * 2.5).dtype == xp.float32
    assert xp.result_type(xp.int8, 1) == xp.int8
    assert xp.result_type(xp.float32, 1.0) == xp.float32
    assert xp.can_cast(xp.int8, xp.int16) and not xp.can_cast(xp.int16, xp.int8)
    assert not xp.can_cast(xp.float64, xp.float32) and not xp.can_cast(xp.float32, xp.int64)
    assert xp.isdtype(xp.float32, "real floating") and not xp.isdtype(xp.int8, "bool")
    assert xp.finfo(xp.float32).eps == np.finfo(np.float32).eps
    assert xp.iinfo(_c(I32)).max == 2**31 - 1


UNARY = ["abs", "acos", "acosh", "asin", "asinh", "atan", "atanh", "ceil", "cos", "cosh",
         "exp", "expm1", "floor", "isfinite", "isinf", "isnan", "log", "log1p", "log2",
         "log10", "negative", "positive", "round", "sign", "signbit", "sin", "sinh",
         "square", "sqrt", "tan", "tanh", "trunc", "reciprocal"]
NP_NAME = {"acos": "arccos", "acosh": "arccosh", "asin": "arcsin", "asinh": "arcsinh",
           "atan": "arctan", "atanh": "arctanh", "atan2": "arctan2", "pow": "power",
           "bitwise_left_shift": "left_shift", "bitwise_right_shift": "right_shift",
           "bitwise_invert": "invert", "divide": "true_divide"}


@pytest.mark.parametrize("name", UNARY)
def test_unary_elementwise(name):
    with np.errstate(all="ignore"):
        want = getattr(np, NP_NAME.get(name, name))(F)
        _eq(getattr(xp, name)(_c(F)), want)
    if name in ("ceil", "floor", "trunc", "round", "abs", "sign", "square"):
        _eq(getattr(xp, name)(_c(I32)), getattr(np, name)(I32) if name not in
            ("ceil", "floor", "trunc", "round") else I32)


BINARY = ["add", "atan2", "copysign", "divide", "equal", "floor_divide", "greater",
          "greater_equal", "hypot", "less", "less_equal", "logaddexp", "maximum",
          "minimum", "multiply", "nextafter", "not_equal", "pow", "remainder", "subtract"]


@pytest.mark.parametrize("name", BINARY)
def test_binary_elementwise(name):
    g = RNG.standard_normal(5)
    with np.errstate(all="ignore"):
        f = getattr(np, NP_NAME.get(name, name))
        _eq(getattr(xp, name)(_c(F), _c(g)), f(F, g))
        _eq(getattr(xp, name)(_c(F), 2.0), f(F, 2.0))


def test_integer_and_logical_elementwise():
    a, b = I32, np.abs(I32[::-1]) % 5
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
                 "bitwise_right_shift"):
        _eq(getattr(xp, name)(_c(a), _c(b)), getattr(np, NP_NAME.get(name, name))(a, b))
    _eq(xp.bitwise_invert(_c(a)), ~a)
    p, q = F > 0, F < 0.5
    for name in ("logical_and", "logical_or", "logical_xor"):
        _eq(getattr(xp, name)(_c(p), _c(q)), getattr(np, name)(p, q))
    _eq(xp.logical_not(_c(p)), ~p)
    z = F + 1j * F[::-1]
    _eq(xp.real(_c(z)), z.real)
    _eq(xp.imag(_c(z)), z.imag)
    _eq(xp.conj(_c(z)), np.conj(z))
    _eq(xp.clip(_c(F), min=-0.5, max=0.5), np.clip(F, -0.5, 0.5))
    _eq(xp.clip(_c(I32), max=3), np.minimum(I32, 3).astype(np.int32))
    _eq(xp.clip(_c(F), min=_c(F[0])), np.maximum(F, F[0]))


def test_linear_algebra():
    g = RNG.standard_normal((5, 4))
    np.testing.assert_allclose(xp.matmul(_c(F), _c(g)).compute(), F @ g, rtol=1e-13)
    _eq(xp.matrix_transpose(_c(F)), F.T)
    np.testing.assert_allclose(xp.tensordot(_c(F), _c(g), axes=1).compute(),
                               np.tensordot(F, g, axes=1), rtol=1e-13)
    got = xp.vecdot(_c(F), _c(F[0])).compute()
    np.testing.assert_allclose(got, np.vecdot(F, F[0]), rtol=1e-13)


def test_manipulation():
    x = _c(F)
    _eq(xp.concat([x, x], axis=1), np.concatenate([F, F], axis=1))
    _eq(xp.concat([x, x], axis=None), np.concatenate([F.ravel(), F.ravel()]))
    _eq(xp.concat([_c(I32), x]), np.concatenate([I32, F]))
    _eq(xp.stack([x, x], axis=-1), np.stack([F, F], axis=-1))
    _eq(xp.expand_dims(x, axis=1), F[:, None])
    _eq(xp.flip(x, axis=(0, 1)), F[::-1, ::-1])
    _eq(xp.moveaxis(x, 0, 1), F.T)
    _eq(xp.permute_dims(x, (1, 0)), F.T)
    _eq(xp.repeat(x, 2, axis=0), np.repeat(F, 2, axis=0))
    _eq(xp.reshape(x, (3, 10)), F.reshape(3, 10))
    _eq(xp.roll(x, 2, axis=1), np.roll(F, 2, axis=1))
    _eq(xp.squeeze(x[:1], axis=0), F[0])
    _eq(xp.tile(x, (2, 1)), np.tile(F, (2, 1)))
    for got, want in zip(xp.unstack(x, axis=1), np.unstack(F, axis=1)):
        _eq(got, want)
    for got, want in zip(xp.broadcast_arrays(x, _c(F[0])), np.broadcast_arrays(F, F[0])):
        _eq(got, want)
    _eq(xp.broadcast_to(_c(F[0]), (2, 5)), np.broadcast_to(F[0], (2, 5)))
    _eq(xp.take(x, _c(np.array([0, 5, 2])), axis=0), F[[0, 5, 2]])
    idx = np.argsort(F, axis=1)
    _eq(xp.take_along_axis(x, _c(idx), axis=1), np.take_along_axis(F, idx, axis=1))


def test_searching_sorting_sets():
    x = _c(I32)
    _eq(xp.argmax(x, axis=1), np.argmax(I32, axis=1))
    _eq(xp.argmin(x), np.argmin(I32))
    _eq(xp.count_nonzero(x, axis=0), np.count_nonzero(I32, axis=0).astype(np.int64))
    for got, want in zip(xp.nonzero(x > 10), np.nonzero(I32 > 10)):
        _eq(got, want)
    _eq(xp.where(x > 0, x, 0), np.where(I32 > 0, I32, 0))
    s = np.sort(I32.ravel())
    _eq(xp.searchsorted(_c(s), _c(np.array([-3, 0, 7])), side="right"),
        np.searchsorted(s, [-3, 0, 7], side="right"))
    _eq(xp.sort(x, axis=0), np.sort(I32, axis=0))
    _eq(xp.sort(x, descending=True), -np.sort(-I32))
    _eq(xp.argsort(x, axis=1), np.argsort(I32, axis=1, kind="stable"))
    d = np.array([3, 1, 3, 2, 1])
    _eq(xp.argsort(_c(d), descending=True), np.array([0, 2, 3, 1, 4]))
    u = xp.unique_all(x)
    v, i, inv, c = np.unique_all(I32)
    _eq(u.values, v)
    _eq(u.indices, i)
    _eq(u.inverse_indices, inv)
    _eq(u.counts, c)
    _eq(xp.unique_values(x), np.unique_values(I32))
    _eq(xp.unique_counts(x).counts, c)
    _eq(xp.unique_inverse(x).inverse_indices, inv)


def test_statistics_and_utility():
    x, i = _c(F), _c(I32)
    np.testing.assert_allclose(xp.sum(x, axis=1).compute(), F.sum(axis=1), rtol=1e-13)
    assert isinstance(xp.sum(x), cw.Array) and xp.sum(x).ndim == 0
    _eq(xp.sum(i), I32.sum())
    assert xp.sum(xp.ones(3, dtype=xp.float32)).dtype == xp.float32
    _eq(xp.prod(i[:2], axis=0), I32[:2].prod(axis=0))
    _eq(xp.max(x, axis=(0, 1), keepdims=True), F.max(axis=(0, 1), keepdims=True))
    _eq(xp.min(i, axis=0), I32.min(axis=0))
    np.testing.assert_allclose(xp.mean(x, axis=0).compute(), F.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(xp.var(x, axis=0, correction=1).compute(),
                               F.var(axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(xp.std(x, correction=0.5).compute(), F.std(ddof=0.5),
                               rtol=1e-12)
    _eq(xp.cumulative_sum(i, axis=1), np.cumulative_sum(I32, axis=1))
    _eq(xp.cumulative_sum(i[0], include_initial=True),
        np.cumulative_sum(I32[0], include_initial=True))
    _eq(xp.cumulative_prod(i[:, :3] % 4, axis=0, include_initial=True),
        np.cumulative_prod(I32[:, :3] % 4, axis=0, include_initial=True))
    _eq(xp.all(x > -10, axis=1), np.all(F > -10, axis=1))
    _eq(xp.any(x > 1), np.any(F > 1))
    _eq(xp.diff(i, axis=0, n=2), np.diff(I32, axis=0, n=2))
    _eq(xp.diff(i > 0, axis=1), np.diff(I32 > 0, axis=1))
    _eq(xp.diff(i, n=0), I32)
    _eq(xp.diff(i, prepend=i[:, :1], append=i[:, -1:]),
        np.diff(I32, prepend=I32[:, :1], append=I32[:, -1:]))


def test_functions_stay_lazy():
    """The functions with a lazy implementation neither compute nor fall back."""
    x = _c(F)
    with warnings.catch_warnings():
        warnings.simplefilter("error", cw.FallbackWarning)
        for y in (xp.clip(x, min=0), xp.hypot(x, 1.0), xp.sum(x, axis=0), xp.flip(x),
                  xp.concat([x, x]), xp.matmul(x, x.mT), xp.cumulative_sum(x, axis=0),
                  xp.where(x > 0, x, 0.0), xp.var(x, correction=1), xp.vecdot(x, x),
                  xp.diff(x, n=2, prepend=x), xp.diff(x > 0, axis=0), xp.count_nonzero(x),
                  xp.linalg.outer(x[0], x[1]), xp.fft.fftshift(x), xp.expm1(x),
                  xp.floor_divide(x, 2.0), xp.reciprocal(x), xp.std(x, axis=0)):
            assert isinstance(y, cw.Array)


def test_standard_special_values():
    a = _c(np.array([-np.inf, np.inf, 1.0, -1.0, 7.0]))
    b = _c(np.array([3.0, -2.0, -np.inf, np.inf, 2.0]))
    got = xp.floor_divide(a, b).compute()
    np.testing.assert_array_equal(got, [-np.inf, -np.inf, -0.0, -0.0, 3.0])
    assert list(np.signbit(got)) == [True, True, True, True, False]
    _eq(xp.floor_divide(_c(I32), 7), I32 // 7)
    z = np.array([complex(np.inf, 0), complex(-np.inf, np.inf), complex(1, 2)])
    got = xp.expm1(_c(z)).compute()
    assert got[0] == complex(np.inf, 0) and got[1] == -1
    assert got[2] == np.expm1(z[2])


def test_linalg_and_fft_extensions():
    m = RNG.standard_normal((4, 4))
    spd = m @ m.T + 4 * np.eye(4)
    x = _c(spd)
    with pytest.warns(cw.FallbackWarning):
        np.testing.assert_allclose(xp.linalg.cholesky(x).compute(), np.linalg.cholesky(spd))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cw.FallbackWarning)
        w = xp.linalg.eigh(x)
        np.testing.assert_allclose(w.eigenvalues.compute(), np.linalg.eigvalsh(spd))
        np.testing.assert_allclose(xp.linalg.inv(x).compute(), np.linalg.inv(spd))
        np.testing.assert_allclose(xp.linalg.det(x).compute(), np.linalg.det(spd))
        s = xp.linalg.svd(_c(m), full_matrices=False)
        np.testing.assert_allclose(s.S.compute(), np.linalg.svd(m, compute_uv=False))
        np.testing.assert_allclose(xp.linalg.vector_norm(_c(m), axis=0).compute(),
                                   np.linalg.norm(m, axis=0))
        np.testing.assert_allclose(xp.linalg.solve(x, _c(m)).compute(),
                                   np.linalg.solve(spd, m))
        f = xp.fft.rfft(xp.asarray(F, dtype=xp.float32), axis=0)
        assert f.dtype == xp.complex64
        np.testing.assert_allclose(f.compute(), np.fft.rfft(F.astype(np.float32), axis=0),
                                   rtol=1e-5, atol=1e-5)
    _eq(xp.linalg.diagonal(_c(F), offset=1), np.diagonal(F, 1, -2, -1))
    _eq(xp.linalg.trace(_c(I32[:5])), np.trace(I32[:5]).astype(np.int64))
    _eq(xp.linalg.outer(_c(F[0]), _c(F[1])), np.outer(F[0], F[1]))
    _eq(xp.fft.fftshift(_c(F)), np.fft.fftshift(F))
    _eq(xp.fft.ifftshift(_c(F), axes=1), np.fft.ifftshift(F, axes=1))
    _eq(xp.fft.fftfreq(8, d=0.5), np.fft.fftfreq(8, 0.5))


def test_many_chunks():
    """The lazy paths over arrays of several chunks give NumPy's values."""
    x = cw.asarray(F, chunks=(2, 2))
    i = cw.asarray(I32, chunks=(4, 3))
    np.testing.assert_allclose(xp.sum(x, axis=0).compute(), F.sum(axis=0), rtol=1e-13)
    _eq(xp.cumulative_sum(i, axis=0, include_initial=True),
        np.cumulative_sum(I32, axis=0, include_initial=True))
    _eq(xp.max(i, axis=1, keepdims=True), I32.max(axis=1, keepdims=True))
    _eq(xp.clip(x, min=-0.2, max=0.3), np.clip(F, -0.2, 0.3))
    _eq(xp.flip(xp.roll(x, 3, axis=0), axis=1), np.flip(np.roll(F, 3, axis=0), axis=1))
    _eq(xp.concat([x, i], axis=0), np.concatenate([F, I32]))
    _eq(xp.where(x > 0, i, -1), np.where(F > 0, I32, -1))
    _eq(x[x > 0.5], F[F > 0.5])
    _eq(xp.argmax(x, axis=0), np.argmax(F, axis=0))


def test_numpy_names_beyond_the_standard():
    """What libraries such as xarray take from a NumPy-like namespace: NumPy's
    own functions on chunkwise arrays, and NumPy's keyword names."""
    x = _c(F)
    _eq(xp.pad(x, 1), np.pad(F, 1))
    _eq(xp.transpose(x), F.T)
    np.testing.assert_allclose(xp.std(x, axis=0, ddof=1).compute(), F.std(axis=0, ddof=1),
                               rtol=1e-12)
    with pytest.raises(TypeError):
        xp.var(x, correction=1, ddof=1)
    assert xp.result_type(1.0, 2) == np.float64
    with pytest.raises(AttributeError):
        xp.no_such_function
    with pytest.raises(AttributeError):
        xp._private
