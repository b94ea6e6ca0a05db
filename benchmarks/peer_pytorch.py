#!/usr/bin/python3
"""The peer of fedhpc: federated averaging the way Python FL simulators
(Flower's simulation engine, FedML's single-process simulation) run it.

One reused nn.Module; every round each client, in sequence, loads the global
state dict, trains with a fresh optimizer, and hands back a copy of its state
dict; the server averages the state dicts weighted by sample counts and
evaluates the new global model. Same models, optimizer settings, data sizes
and evaluation work as the matching fedhpc run (see compare_peer.sh), with
torch.set_num_threads(1).

Runs on Debian's /usr/bin/python3 with python3-torch (1.13, the same
libtorch and BLAS as fedhpc). Prints one `peer ...` line of key=value pairs:
setup_s (data and partition), rounds_s (sum of the rounds: training,
aggregation and evaluation), us_per_client_step, the final accuracy.

  /usr/bin/python3 benchmarks/peer_pytorch.py --model seed-cnn --clients 10 \\
      --max-train-samples 6000 --local-test-fraction 0.2 --rounds 5 \\
      --optimizer adam --lr 0.001 --batch-size 16 --clip-norm 1
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(data_dir, max_train, max_test):
    def part(prefix, limit):
        x = read_idx(os.path.join(data_dir, prefix + "-images-idx3-ubyte.gz"))
        y = read_idx(os.path.join(data_dir, prefix + "-labels-idx1-ubyte.gz"))
        if limit:
            x, y = x[:limit], y[:limit]
        x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)  # N,1,28,28 in [0,1]
        return x, torch.from_numpy(y.astype(np.int64))
    return part("train", max_train), part("t10k", max_test)


class SeedCNN(nn.Module):
    """fedhpc's seed-cnn: conv 3x3x32, act, pool 2, conv 3x3x64, act, pool 2, dense."""

    def __init__(self, slope):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.dense = nn.Linear(64 * 5 * 5, 10)
        self.slope = slope
        for m in (self.conv1, self.conv2, self.dense):  # Glorot uniform, bias 0 (baseline)
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x):
        h = F.max_pool2d(F.leaky_relu(self.conv1(x), self.slope), 2)
        h = F.max_pool2d(F.leaky_relu(self.conv2(h), self.slope), 2)
        return self.dense(h.flatten(1))


class LogReg(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(784, 10)
        nn.init.xavier_uniform_(self.dense.weight)
        nn.init.zeros_(self.dense.bias)

    def forward(self, x):
        return self.dense(x.flatten(1))


def iid_partition(n, clients, test_fraction, gen):
    """A seeded permutation dealt in contiguous blocks; each client holds out
    floor(f * n_k) samples as its local test split (as fedhpc's iid)."""
    perm = torch.randperm(n, generator=gen)
    out = []
    for c in range(clients):
        idx = perm[c * n // clients:(c + 1) * n // clients]
        hold = int(test_fraction * len(idx))
        out.append((idx[hold:], idx[:hold]))
    return out


def batches(x, y, idx, batch, steps, gen, loader):
    """Minibatches of one local pass (or `steps` of them): a shuffled index
    list cut into batches, or torch's DataLoader as the Flower tutorials do."""
    if loader == "dataloader":
        ds = torch.utils.data.TensorDataset(x[idx], y[idx])
        it = iter(torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, generator=gen))
        for k, b in enumerate(it):
            if steps and k >= steps:
                return
            yield b
        return
    order = idx[torch.randperm(len(idx), generator=gen)]
    count = (len(order) + batch - 1) // batch
    if steps:
        count = steps
    for k in range(count):
        sel = order[(k * batch) % len(order):][:batch]
        yield x.index_select(0, sel), y.index_select(0, sel)


def make_optimizer(args, params):
    if args.optimizer == "adam":
        return torch.optim.Adam(params, lr=args.lr, betas=(args.beta1, args.beta2), eps=args.eps)
    return torch.optim.SGD(params, lr=args.lr, momentum=args.momentum)


def train_client(model, state, x, y, idx, args, gen):
    model.load_state_dict(state)                 # the client starts from the global model
    opt = make_optimizer(args, model.parameters())  # stateless clients: fresh optimizer each round
    model.train()
    steps = 0
    for _ in range(args.local_iterations):
        for bx, by in batches(x, y, idx, args.batch_size or len(idx), args.iteration_steps, gen, args.loader):
            opt.zero_grad()
            F.cross_entropy(model(bx), by).backward()
            if args.clip_norm > 0:               # Keras clipnorm: per tensor
                for p in model.parameters():
                    torch.nn.utils.clip_grad_norm_(p, args.clip_norm)
            opt.step()
            steps += 1
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, steps


def fedavg(states, weights):
    total = float(sum(weights))
    return {k: sum(s[k] * (w / total) for s, w in zip(states, weights)) for k in states[0]}


@torch.no_grad()
def evaluate(model, state, x, y, chunk):
    model.load_state_dict(state)
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(y), chunk):
        out = model(x[i:i + chunk])
        loss += F.cross_entropy(out, y[i:i + chunk], reduction="sum").item()
        correct += (out.argmax(1) == y[i:i + chunk]).sum().item()
    return loss / max(1, len(y)), correct / max(1, len(y))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--model", choices=["seed-cnn", "logreg"], default="seed-cnn")
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--max-train-samples", type=int, default=0)
    p.add_argument("--max-test-samples", type=int, default=0)
    p.add_argument("--local-test-fraction", type=float, default=0.2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--local-iterations", type=int, default=1)
    p.add_argument("--iteration-steps", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.999)
    p.add_argument("--eps", type=float, default=1e-7)
    p.add_argument("--clip-norm", type=float, default=1.0)
    p.add_argument("--leaky-slope", type=float, default=0.3)
    p.add_argument("--eval-batch-size", type=int, default=1000)
    p.add_argument("--loader", choices=["tensor", "dataloader"], default="tensor",
                   help="minibatches by index_select (default) or torch DataLoader")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    (x, y), (tx, ty) = load(args.data_dir, args.max_train_samples, args.max_test_samples)
    clients = iid_partition(len(y), args.clients, args.local_test_fraction, gen)
    model = SeedCNN(args.leaky_slope) if args.model == "seed-cnn" else LogReg()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    evaluate(model, state, tx, ty, args.eval_batch_size)  # row 0: the initial model
    setup = time.perf_counter() - t0

    rounds_s, steps = 0.0, 0
    for r in range(1, args.rounds + 1):
        t = time.perf_counter()
        states, weights = [], []
        for train_idx, _ in clients:
            s, k = train_client(model, state, x, y, train_idx, args, gen)
            states.append(s)
            weights.append(len(train_idx))
            steps += k
        state = fedavg(states, weights)
        loss, acc = evaluate(model, state, tx, ty, args.eval_batch_size)
        local = [evaluate(model, state, x[i], y[i], args.eval_batch_size) for _, i in clients if len(i)]
        rounds_s += time.perf_counter() - t
        print(f"# round {r}/{args.rounds} test_acc {acc:.4f} test_loss {loss:.4f} "
              f"local_splits {len(local)} {time.perf_counter() - t:.2f} s", flush=True)
    print(f"peer model={args.model} clients={args.clients} rounds={args.rounds} steps={steps} "
          f"threads={torch.get_num_threads()} loader={args.loader} setup_s={setup:.3f} rounds_s={rounds_s:.3f} "
          f"us_per_client_step={1e6 * rounds_s / max(1, steps):.1f} test_acc={acc:.4f}", flush=True)


if __name__ == "__main__":
    main()
