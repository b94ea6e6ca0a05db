#!/usr/bin/python3
"""Write a dataset for `fedhpc run --dataset hdf5:FILE` from numpy arrays.

The file holds
  /train/x  [N, ...]  float32 (used as is) or uint8 (times the `scale`
                      attribute, default 1/255); a sample is [D], [H, W] or
                      [C, H, W]
  /train/y  [N]       integer labels 0..K-1
  /test/x, /test/y    the global test set, same sample shape
  /train/client [N]   optional: the client of every training sample, ids
                      0..M-1, for --partition natural (LEAF-style data)
  attribute num_classes (optional; default: largest label + 1)

This example makes a naturally partitioned toy set: 8 "writers", each with
its own style (a per-writer brightness and offset) drawing 4 classes of
8x8 blobs, and writes it to the path given (default my-data.h5):

  /usr/bin/python3 jobs/datasets/write_dataset.py my-data.h5
  mpirun -n 2 build-release/src/fedhpc run --dataset hdf5:my-data.h5 \\
      --partition natural --clients 8 --model mlp --rounds 5 --output own.h5

To convert your own arrays, call write(path, x_train, y_train, x_test,
y_test, clients=None).
"""
import sys

import h5py
import numpy as np


def write(path, x_train, y_train, x_test, y_test, clients=None, num_classes=None):
    with h5py.File(path, "w") as f:
        for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
            d = f.create_dataset(f"{split}/x", data=x, compression="gzip")
            if x.dtype == np.uint8:
                d.attrs["scale"] = 1.0 / 255.0
            f.create_dataset(f"{split}/y", data=np.asarray(y, dtype=np.int64))
        if clients is not None:
            f.create_dataset("train/client", data=np.asarray(clients, dtype=np.int64))
        if num_classes is not None:
            f.attrs["num_classes"] = int(num_classes)


def toy(writers=8, per_writer=60, test=400, side=8, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(1, side - 2, size=(classes, 2))
    yy, xx = np.mgrid[0:side, 0:side]

    def draw(label, gain, shift):
        cy, cx = centres[label] + shift
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 3.0)
        return np.clip(gain * blob + rng.normal(0, 0.1, blob.shape), 0, 1)

    xs, ys, cs = [], [], []
    for w in range(writers):
        gain, shift = rng.uniform(0.5, 1.0), rng.normal(0, 0.7, 2)
        for _ in range(per_writer):
            label = int(rng.integers(classes))
            xs.append(draw(label, gain, shift))
            ys.append(label)
            cs.append(w)
    test_y = rng.integers(classes, size=test)
    test_x = [draw(int(label), rng.uniform(0.5, 1.0), rng.normal(0, 0.7, 2)) for label in test_y]
    to_u8 = lambda a: (np.asarray(a)[:, None] * 255).round().astype(np.uint8)  # [N, 1, side, side]
    return to_u8(xs), np.array(ys), to_u8(test_x), test_y, np.array(cs)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "my-data.h5"
    x, y, tx, ty, c = toy()
    write(out, x, y, tx, ty, clients=c)
    print(f"wrote {out}: train {x.shape} {x.dtype}, test {tx.shape}, {c.max() + 1} clients")
