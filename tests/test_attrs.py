"""HDF5 metadata: Array.attrs, Array.dims / coords and open_group, compared
with h5py (and netCDF4-python) on files written by h5py, PyTables and
netCDF4-python."""
import importlib.util
import subprocess
import sys

import h5py
import numpy as np
import pytest

import chunkwise as cw

REF_ATTRS = {"DIMENSION_LIST", "REFERENCE_LIST"}


def assert_same(a, b):
    """Equal values of the same type, dtype and shape."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype, (a.dtype, b.dtype)
        assert np.shape(a) == np.shape(b)
        if a.dtype.kind == "O":
            assert a.tolist() == b.tolist()
        else:
            np.testing.assert_array_equal(a, b)
    else:
        assert a == b


def compare_attrs(path, name, member=False):
    """cw's attrs equal h5py's for every attribute h5py reads (apart from
    the dimension-scale references); returns the keys compared."""
    with h5py.File(path, "r") as f:
        obj = f[name]
        expected = {k: obj.attrs[k] for k in obj.attrs if k not in REF_ATTRS}
        # A dimension scale's references are exactly the reference-typed
        # attributes that cw leaves out.
        refs = {k for k in obj.attrs if k in REF_ATTRS}
    if member:  # a dataset cw.open cannot read: through its group
        parent, _, leaf = name.rpartition("/")
        got = cw.open_group(path, parent or "/").member_attrs(leaf)
    else:
        got = (cw.open(path, name).attrs if isinstance(obj, h5py.Dataset)
               else cw.open_group(path, name).attrs)
    assert sorted(got) == sorted(expected)
    assert len(got) == len(expected)
    assert not refs & set(got)
    for k, v in expected.items():
        if isinstance(v, h5py.Empty):  # a null dataspace: no value to give
            with pytest.raises(TypeError, match="empty"):
                got[k]
        else:
            assert_same(got[k], v)
    return list(got)


@pytest.fixture
def h5py_file(tmp_path):
    path = str(tmp_path / "attrs.h5")
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", data=np.arange(12, dtype="f4").reshape(3, 4),
                             chunks=(2, 2), compression="gzip")
        a = d.attrs
        a["i1"] = np.int8(-3)
        a["u2"] = np.uint16(65535)
        a["i4"] = np.int32(-7)
        a["u8"] = np.uint64(2**63 + 5)
        a["f2"] = np.float16(1.5)
        a["f4"] = np.float32(0.1)
        a["f8"] = 2.5
        a.create("be8", np.int64(-12345), dtype=">i8")
        a.create("bef", 3.25, dtype=">f8")
        a["vec"] = np.array([1.0, 2.0, 3.0])
        a["mat"] = np.arange(6, dtype="i2").reshape(2, 3)
        a["one"] = np.array([7], dtype="u1")
        a["bool"] = np.bool_(True)
        a["bools"] = np.array([True, False, True])
        a["vlen_str"] = "hello wörld"
        a["vlen_strs"] = np.array(["a", "bé", ""], dtype=h5py.string_dtype())
        a.create("vlen_ascii", "abc", dtype=h5py.string_dtype("ascii"))
        a["fixed"] = np.bytes_(b"fixed\x00")
        a["fixed_arr"] = np.array([b"ab", b"cde"], dtype="S3")
        a.create("fixed_utf8", "hé".encode(), dtype=h5py.string_dtype("utf-8", 4))
        a["enum"] = np.array(2, dtype=h5py.enum_dtype({"R": 0, "G": 1, "B": 2},
                                                     basetype="u1"))
        a["enums"] = np.array([0, 1], dtype=h5py.enum_dtype({"X": 0, "Y": 1},
                                                          basetype="i4"))
        cdt = np.dtype([("a", "<i4"), ("b", "<f8"), ("c", "?")])
        a["compound"] = np.array((1, 2.5, True), dtype=cdt)
        a["compounds"] = np.array([(1, 2.5, True), (-4, 0.5, False)], dtype=cdt)
        a["c8"] = np.complex64(1 + 2j)
        a["c16"] = np.array([1 - 1j, 0.5j])
        a.create("c16be", 3 + 4j, dtype=">c16")
        a["opaque"] = np.void(b"\x01\x02\x03")
        a["vlen_int"] = np.array([np.arange(3), np.arange(2)],
                                 dtype=h5py.vlen_dtype("i4"))
        a["empty"] = h5py.Empty("f4")
        g = f.create_group("grp", track_order=True)
        g.attrs["z_first"] = 1
        g.attrs["a_second"] = "two"
        g.create_dataset("y", data=np.arange(5, dtype="i8"))
        g.create_group("sub").create_dataset("z", data=np.ones((2, 2), dtype="u2"))
        f.attrs["root"] = np.float64(9.0)
        f["x"].attrs["ref"] = f["grp"].ref
    return path


UNSUPPORTED = {"opaque", "vlen_int", "empty", "ref"}


def test_attrs_equal_h5py(h5py_file):
    with h5py.File(h5py_file, "r") as f:
        attrs = f["x"].attrs
        expected = {k: attrs[k] for k in attrs if k not in UNSUPPORTED}
    x = cw.open(h5py_file, "/x")
    assert sorted(x.attrs) == sorted(list(expected) + list(UNSUPPORTED))
    for k, v in expected.items():
        assert_same(x.attrs[k], v)
    # h5py's conventions, spelled out on a few.
    assert type(x.attrs["vlen_str"]) is str and x.attrs["vlen_str"] == "hello wörld"
    assert x.attrs["fixed"] == b"fixed" and isinstance(x.attrs["fixed"], np.bytes_)
    assert x.attrs["u8"] == np.uint64(2**63 + 5)
    assert x.attrs["be8"].dtype == np.dtype("i8") and x.attrs["be8"] == -12345
    assert x.attrs["compounds"]["a"].tolist() == [1, -4]
    assert x.attrs["one"].shape == (1,)


@pytest.mark.parametrize("key", sorted(UNSUPPORTED))
def test_unsupported_attribute_raises_on_access(h5py_file, key):
    x = cw.open(h5py_file, "/x")  # opening works
    assert key in x.attrs
    with pytest.raises(TypeError, match=key):
        x.attrs[key]


def test_attrs_mapping_is_read_only(h5py_file):
    attrs = cw.open(h5py_file, "/x").attrs
    from collections.abc import Mapping
    assert isinstance(attrs, Mapping)
    with pytest.raises(TypeError):
        attrs["new"] = 1
    with pytest.raises(KeyError):
        attrs["missing"]


def test_group_attrs_in_creation_order(h5py_file):
    with h5py.File(h5py_file, "r") as f:
        expected = list(f["grp"].attrs)
    assert expected == ["z_first", "a_second"]
    assert list(cw.open_group(h5py_file, "/grp").attrs) == expected
    compare_attrs(h5py_file, "/grp")
    compare_attrs(h5py_file, "/")


def test_derived_arrays_carry_no_attrs(h5py_file):
    x = cw.open(h5py_file, "/x")
    assert len(x.attrs) > 0
    assert dict((x + 1).attrs) == {}
    assert dict(x.sum().attrs) == {}
    assert dict(cw.zeros(3).attrs) == {}
    # Indexing keeps reading the same dataset: its attributes stay.
    assert_same(x[1:, ::2].attrs["f8"], np.float64(2.5))


def test_open_group_equals_visititems(h5py_file):
    with h5py.File(h5py_file, "r") as f:
        names = []
        f.visit(names.append)
        kinds = {}
        f.visititems(lambda n, o: kinds.setdefault(n, type(o).__name__))
    g = cw.open_group(h5py_file)
    assert g.visit() == names
    assert sorted(g) == ["grp", "x"]
    assert g.datasets() == ["x"] and g.groups() == ["grp"]
    for name, kind in kinds.items():
        obj = g[name]
        if kind == "Dataset":
            assert isinstance(obj, cw.Array)
            with h5py.File(h5py_file, "r") as f:
                ref = f[name][()]
            assert obj.shape == ref.shape and obj.dtype == ref.dtype
            np.testing.assert_array_equal(obj.compute(), ref)
        else:
            assert isinstance(obj, cw.Group)
            assert sorted(obj) == sorted(h5py.File(h5py_file, "r")[name])
    sub = g["grp"]["sub"]
    assert sub.name == "/grp/sub" and list(sub) == ["z"]
    assert g["grp/sub/z"].shape == (2, 2)


def test_open_group_errors(h5py_file, tmp_path):
    with pytest.raises(KeyError):
        cw.open_group(h5py_file, "/nope")
    with pytest.raises(TypeError):
        cw.open_group(h5py_file, "/x")
    with pytest.raises(FileNotFoundError):
        cw.open_group(str(tmp_path / "missing.h5"))
    with pytest.raises(KeyError):
        cw.open_group(h5py_file)["nope"]
    with pytest.raises(KeyError):
        cw.open(h5py_file, "/x").attrs["nope"]


def test_pytables_system_attributes(tmp_path):
    tables = pytest.importorskip("tables")
    path = str(tmp_path / "pt.h5")
    with tables.open_file(path, "w", title="a title") as f:
        arr = f.create_carray("/", "c", atom=tables.Float64Atom(), shape=(10, 3),
                              filters=tables.Filters(5, "zlib"), title="carray")
        arr[:] = np.arange(30.0).reshape(10, 3)
        arr.attrs.units = "m/s"
        arr.attrs.scale = np.float32(0.5)
        arr.attrs.flag = True
        arr.attrs.vec = np.arange(4, dtype="i2")
        g = f.create_group("/", "g", title="group title")
        f.create_array(g, "a", np.arange(5, dtype="u4"), title="plain")
        t = f.create_table("/", "tbl", {"x": tables.Int32Col(), "y": tables.Float64Col()})
        t.append([(1, 2.0)])
    keys = compare_attrs(path, "/c")
    assert {"CLASS", "VERSION", "TITLE", "units", "scale", "flag", "vec"} <= set(keys)
    assert cw.open(path, "/c").attrs["CLASS"] == b"CARRAY"
    compare_attrs(path, "/g/a")
    compare_attrs(path, "/g")
    compare_attrs(path, "/")
    compare_attrs(path, "/tbl", member=True)  # FIELD_*_NAME, NROWS, ... (the table itself is compound)
    with h5py.File(path, "r") as f:
        names = []
        f.visit(names.append)
    assert cw.open_group(path).visit() == names


# netCDF4-python sets HDF5_PLUGIN_PATH when imported, which would change
# where this process's HDF5 looks for filter plugins: it runs in a child.
NETCDF_WRITER = """
import sys
import numpy as np
import netCDF4 as nc
path = sys.argv[1]
with nc.Dataset(path, "w") as ds:
    ds.title = "test file"
    ds.history = "made by tests"
    ds.createDimension("time", None)
    ds.createDimension("lat", 3)
    ds.createDimension("lon", 4)
    ds.createDimension("bare", 2)
    t = ds.createVariable("time", "f8", ("time",))
    t.units = "days since 2000-01-01"
    t[:] = np.arange(5.0)
    lat = ds.createVariable("lat", "f4", ("lat",))
    lat.units = "degrees_north"
    lat[:] = [10.0, 20.0, 30.0]
    lon = ds.createVariable("lon", "f4", ("lon",))
    lon[:] = [0.0, 1.0, 2.0, 3.0]
    v = ds.createVariable("temp", "i2", ("time", "lat", "lon"), zlib=True,
                          fill_value=np.int16(-999))
    v.scale_factor = np.float32(0.01)
    v.add_offset = np.float32(273.15)
    v.units = "K"
    v.valid_range = np.array([-500, 500], dtype="i2")
    v.long_name = "temperature ü"
    v.set_auto_maskandscale(False)
    v[:] = np.arange(60, dtype="i2").reshape(5, 3, 4)
    w = ds.createVariable("w", "u1", ("bare", "lon"))
    w[:] = np.ones((2, 4), dtype="u1")
    grp = ds.createGroup("sub")
    grp.note = "in a group"
    gv = grp.createVariable("g", "f8", ("lat",))
    gv[:] = [1.0, 2.0, 3.0]
    s = ds.createVariable("s", str, ("lat",))
    s.comment = np.array(["x", "y"])  # NC_STRING attribute array
for name in ("temp", "time", "lat", "w"):
    with nc.Dataset(path) as ds:
        print(name, " ".join(ds[name].dimensions))
"""


@pytest.fixture
def netcdf_file(tmp_path):
    if importlib.util.find_spec("netCDF4") is None:  # found, not imported
        pytest.skip("netCDF4 is not installed")
    path = str(tmp_path / "data.nc")
    out = subprocess.run([sys.executable, "-c", NETCDF_WRITER, path], check=True,
                         capture_output=True, text=True).stdout
    dims = {}
    for line in out.splitlines():
        name, *names = line.split()
        dims[name] = tuple(names)
    return path, dims


def test_netcdf_attrs(netcdf_file):
    netcdf_file, _ = netcdf_file
    keys = compare_attrs(netcdf_file, "/temp")
    assert {"_FillValue", "scale_factor", "add_offset", "units", "valid_range",
            "long_name"} <= set(keys)
    a = cw.open(netcdf_file, "/temp").attrs
    assert a["_FillValue"] == np.int16(-999) and a["_FillValue"].dtype == np.int16
    assert a["scale_factor"].dtype == np.float32
    for name in ("/time", "/lat", "/lon", "/w", "/sub/g", "/", "/sub"):
        compare_attrs(netcdf_file, name)
    compare_attrs(netcdf_file, "/s", member=True)  # a string variable


def test_netcdf_dims_and_coords(netcdf_file):
    netcdf_file, expected = netcdf_file
    assert set(expected) == {"temp", "time", "lat", "w"}
    for name, dims in expected.items():
        assert cw.open(netcdf_file, "/" + name).dims == dims
    x = cw.open(netcdf_file, "/temp")
    coords = x.coords
    assert list(coords) == ["time", "lat", "lon"]
    with h5py.File(netcdf_file, "r") as f:
        for dim, arr in coords.items():
            assert isinstance(arr, cw.Array)
            np.testing.assert_array_equal(arr.compute(), f[dim][()])
            assert arr.dtype == f[dim].dtype
    # A bare dimension (no coordinate variable) is named but has no coords.
    w = cw.open(netcdf_file, "/w")
    assert w.dims == ("bare", "lon")
    assert list(w.coords) == ["lon"]
    # Dimensions do not follow a view that changes the axes.
    assert x[0].dims == (None, None)
    assert (x + 1).dims == (None, None, None) and (x + 1).coords == {}


def test_h5py_dimension_scales(tmp_path):
    path = str(tmp_path / "scales.h5")
    with h5py.File(path, "w") as f:
        d = f.create_dataset("data", data=np.zeros((3, 2)))
        xs = f.create_dataset("x", data=np.arange(3.0))
        xs.make_scale("xname")
        f.create_dataset("plain", data=np.zeros(4))
        d.dims[0].attach_scale(xs)
    x = cw.open(path, "/data")
    assert x.dims == ("xname", None)
    np.testing.assert_array_equal(x.coords["xname"].compute(), np.arange(3.0))
    assert cw.open(path, "/plain").dims == (None,)
    assert cw.open(path, "/plain").coords == {}
    compare_attrs(path, "/x")  # CLASS and NAME kept, REFERENCE_LIST left out
    assert set(cw.open(path, "/x").attrs) == {"CLASS", "NAME"}


def test_cli_info_attrs_and_several_files(h5py_file, netcdf_file):
    netcdf_file, _ = netcdf_file
    run = [sys.executable, "-m", "chunkwise", "info"]
    out = subprocess.run(run + ["--attrs", h5py_file, netcdf_file], capture_output=True,
                         text=True, check=True).stdout
    assert f"{h5py_file}: 3 datasets" in out
    assert f"{netcdf_file}:" in out
    assert "      units = 'K'" in out
    assert "      f8 = 2.5" in out
    assert "      opaque = <unsupported: opaque" in out
    assert "dims (time, lat, lon)" in out
    plain = subprocess.run(run + [h5py_file], capture_output=True, text=True,
                           check=True).stdout
    assert "f8 = " not in plain and "/grp/sub/z" in plain


def test_cli_info_flags_filters_it_cannot_decode(tmp_path):
    path = str(tmp_path / "filters.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("fl", data=np.arange(10), chunks=(5,), fletcher32=True)
        f.create_dataset("gz", data=np.arange(10), chunks=(5,), compression="gzip")
        f.create_dataset("unk", shape=(10,), dtype="i4", chunks=(5,),
                         compression=32099, allow_unknown_filter=True)
    out = subprocess.run([sys.executable, "-m", "chunkwise", "info", path],
                         capture_output=True, text=True, check=True).stdout
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "not decodable" not in lines["/gz"] and "pipeline" not in lines["/gz"]
    assert "(decoded by HDF5's filter pipeline)" in lines["/fl"]
    assert "(filters not decodable in this build)" in lines["/unk"]
