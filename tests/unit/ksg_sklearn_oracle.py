#!/usr/bin/python3
"""Oracles for test_ksg_sklearn. Reads a sample matrix (one sample per line)
from argv[1].
  argv[2] = k: prints scikit-learn's KSG estimate with k neighbours between
    columns 0 and 1, with no scaling and no noise: the private _compute_mi_cc
    that mutual_info_regression calls after it has scaled the data and added
    its noise.
  argv[2] = "lw": prints scikit-learn's Ledoit-Wolf shrinkage weight, then
    the shrunk covariance row-major, one value per line.
Exit 77 when scikit-learn is missing (the test then skips)."""
import sys

try:
    import numpy as np
    from sklearn.covariance import ledoit_wolf
    from sklearn.feature_selection._mutual_info import _compute_mi_cc
except ImportError as e:  # python3-sklearn not installed
    print(f"scikit-learn unavailable: {e}")
    sys.exit(77)

data = np.loadtxt(sys.argv[1], dtype=np.float64, ndmin=2)
if sys.argv[2] == "lw":
    cov, shrinkage = ledoit_wolf(data)
    for v in [shrinkage, *cov.ravel()]:
        print(repr(float(v)))
    sys.exit(0)
print(repr(float(_compute_mi_cc(data[:, 0].copy(), data[:, 1].copy(), int(sys.argv[2])))))
