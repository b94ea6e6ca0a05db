#!/usr/bin/python3
"""Export an example model of your own for `fedhpc run --model torchscript:FILE.pt`:
the "ConvNet with 6 Conv and 2 FC layers" of the loss-landscape paper
("Understanding Federated Learning through Loss Landscape Visualizations:
A Pilot Study", Li, Chen, Shen, Chao). The paper gives only the layer
counts; the widths here are this script's choice: three blocks of two 3x3
convolutions (padding 1, ReLU; WIDTH, 2 WIDTH, 4 WIDTH channels), each block
followed by 2x2 max-pooling, then dense 4 WIDTH -> ReLU -> dense CLASSES.
WIDTH = 32 on 28x28x1 images gives 435,306 parameters.

  /usr/bin/python3 jobs/models/export_convnet.py convnet.pt            # Fashion-MNIST shape
  /usr/bin/python3 jobs/models/export_convnet.py convnet.pt --channels 3 --height 32 --width 32
  # the paper's local training: SGD, learning rate 0.01, batch size 16
  mpirun -n 2 build-release/src/fedhpc run --model torchscript:convnet.pt --optimizer sgd --lr 0.01 \\
      --batch-size 16 --rounds 5 --output convnet.h5

The initial weights are PyTorch's default initialisation after
torch.manual_seed(--seed); fedhpc trains from them whatever --seed the run
is given.
"""
import argparse

import torch
from torch import nn


def block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


class ConvNet(nn.Module):
    def __init__(self, channels: int = 1, height: int = 28, width: int = 28, classes: int = 10,
                 base: int = 32):
        super().__init__()
        self.features = nn.Sequential(block(channels, base), block(base, 2 * base), block(2 * base, 4 * base))
        flat = 4 * base * (height // 8) * (width // 8)
        if flat == 0:
            raise ValueError("ConvNet needs images of at least 8x8")
        self.fc1 = nn.Linear(flat, 4 * base)
        self.fc2 = nn.Linear(4 * base, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.flatten(self.features(x), 1)
        return self.fc2(torch.relu(self.fc1(h)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("output", help="the TorchScript file to write (e.g. convnet.pt)")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--height", type=int, default=28)
    p.add_argument("--width", type=int, default=28)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--base-width", type=int, default=32, help="channels of the first block (then 2x, 4x)")
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed for the initialisation")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    model = ConvNet(a.channels, a.height, a.width, a.classes, a.base_width)
    torch.jit.script(model.eval()).save(a.output)
    count = sum(t.numel() for t in model.parameters())
    print(f"wrote {a.output}: ConvNet (6 conv, 2 dense), {count} parameters")


if __name__ == "__main__":
    main()
