"""One equality for detection snapshots, shared by the builder and the store-export tests."""

from __future__ import annotations

import numpy as np

from ringwatch.detectors.snapshot import Snapshot


def assert_same_snapshot(got: Snapshot, want: Snapshot) -> None:
    """Field by field: same shapes, same values (sparse matrices cell by cell), same dtypes."""
    for name in got.__dataclass_fields__:
        x, y = getattr(got, name), getattr(want, name)
        if x is None or y is None:
            assert x is None and y is None, name
            continue
        if hasattr(x, "toarray"):
            assert x.shape == y.shape and (x != y).nnz == 0, name
        else:
            assert x.shape == y.shape and np.array_equal(x, y), name
        assert x.dtype == y.dtype, name
