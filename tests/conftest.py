import os

import pytest


def pytest_report_header(config):
    import chunkwise
    from chunkwise import _core
    return [f"chunkwise from {os.path.dirname(chunkwise.__file__)}, {_core.__file__}",
            f"engine: {_core.version_info()}, default threads {_core.default_threads()}"]


@pytest.fixture(autouse=True)
def _sanitized_extension_in_use():
    """Under tests/sanitize.sh the sanitized extension must be the one
    imported, not the regular build."""
    if os.environ.get("CHUNKWISE_SANITIZE"):
        from chunkwise import _core
        assert "build-asan" in _core.__file__, _core.__file__
