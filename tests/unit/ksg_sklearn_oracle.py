#!/usr/bin/python3
"""KSG oracle for test_ksg_sklearn: reads "x y" lines (one sample per line)
from argv[1] and prints scikit-learn's KSG estimate (k = argv[2]) with no
scaling and no noise: the private _compute_mi_cc that mutual_info_regression
calls after it has scaled the data and added its noise. Exit 77 when
scikit-learn is missing (the test then skips)."""
import sys

try:
    import numpy as np
    from sklearn.feature_selection._mutual_info import _compute_mi_cc
except ImportError as e:  # python3-sklearn not installed
    print(f"scikit-learn unavailable: {e}")
    sys.exit(77)

data = np.loadtxt(sys.argv[1], dtype=np.float64)
print(repr(float(_compute_mi_cc(data[:, 0].copy(), data[:, 1].copy(), int(sys.argv[2])))))
