#!/usr/bin/python3
"""Export the built-in seed CNN as a TorchScript module for
`fedhpc run --model torchscript:FILE.pt` (README, "Your own model").

The module is the GSC paper's network as fedhpc's `seed-cnn` computes it:
conv 3x3x32 -> act -> max-pool 2 -> conv 3x3x64 -> act -> max-pool 2 ->
flatten ([C, H, W] order) -> dense, no padding. Its parameters are named
like seed-cnn's layer table (conv1.weight, conv1.bias, conv2.*, dense.*),
in the same order, so a run file of either model can initialise the other.

  /usr/bin/python3 jobs/models/export_seed_cnn.py seed_cnn.pt
  /usr/bin/python3 jobs/models/export_seed_cnn.py seed_cnn.pt --init-from run.h5 --init-round 0

Without --init-from the weights are PyTorch's default initialisation
(torch.manual_seed(--seed)); with it, row --init-round of the run's
/global/weights (0 = its initial model; the run needs --save-weights global,
the default). fedhpc starts from the module's saved weights whatever --seed
the run is given.

Your own model: write any nn.Module whose forward takes one float batch
[B, C, H, W] and returns logits [B, classes], then
torch.jit.script(model).save("my_model.pt") (or torch.jit.trace).
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn


class SeedCnn(nn.Module):
    def __init__(self, channels: int = 1, height: int = 28, width: int = 28, classes: int = 10,
                 activation: str = "leaky-relu", leaky_slope: float = 0.3):
        super().__init__()
        h = ((height - 2) // 2 - 2) // 2
        w = ((width - 2) // 2 - 2) // 2
        if h < 1 or w < 1:
            raise ValueError("seed-cnn needs images of at least 10x10")
        self.conv1 = nn.Conv2d(channels, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.dense = nn.Linear(64 * h * w, classes)
        self.activation = activation
        self.leaky_slope = leaky_slope

    def act(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation == "relu":
            return F.relu(x)
        if self.activation == "tanh":
            return torch.tanh(x)
        return F.leaky_relu(x, self.leaky_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(self.act(self.conv1(x)), 2)
        x = F.max_pool2d(self.act(self.conv2(x)), 2)
        return self.dense(torch.flatten(x, 1))


def load_run_weights(model: nn.Module, path: str, row: int) -> None:
    """Copies row `row` of the run file's /global/weights into `model`,
    tensor by tensor through the run's /model layer table."""
    import h5py
    with h5py.File(path, "r") as f:
        if "global/weights" not in f:
            raise SystemExit(f"--init-from {path}: no /global/weights (run it with --save-weights global)")
        flat = f["global/weights"][row]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["model/layer_names"][()]]
        offsets = f["model/layer_offsets"][()]
    params = dict(model.named_parameters())
    if sorted(names) != sorted(params):
        raise SystemExit(f"--init-from {path}: its layers {names} are not this model's {list(params)}")
    with torch.no_grad():
        for i, name in enumerate(names):
            values = torch.from_numpy(flat[offsets[i]:offsets[i + 1]].copy())
            if values.numel() != params[name].numel():
                raise SystemExit(f"--init-from {path}: {name} has {values.numel()} values, "
                                 f"the model {params[name].numel()} (check --channels/--height/--width/--classes)")
            params[name].copy_(values.view_as(params[name]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("output", help="the TorchScript file to write (e.g. seed_cnn.pt)")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--height", type=int, default=28)
    p.add_argument("--width", type=int, default=28)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--activation", choices=["leaky-relu", "relu", "tanh"], default="leaky-relu",
                   help="as fedhpc's --activation (the baseline scenario's is leaky-relu)")
    p.add_argument("--leaky-slope", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed for the default initialisation")
    p.add_argument("--init-from", metavar="RUN.h5", help="take the weights from a fedhpc run file")
    p.add_argument("--init-round", type=int, default=0,
                   help="row of the run's /global/weights (0 = initial model, -1 = last)")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    model = SeedCnn(a.channels, a.height, a.width, a.classes, a.activation, a.leaky_slope)
    if a.init_from:
        load_run_weights(model, a.init_from, a.init_round)
    torch.jit.script(model.eval()).save(a.output)
    count = sum(t.numel() for t in model.parameters())
    print(f"wrote {a.output}: seed-cnn, {count} parameters")


if __name__ == "__main__":
    main()
