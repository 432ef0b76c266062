"""Writes the fixture of layers.TestLoadStateDictMatchesTorch with PyTorch
(1.13 when it was committed) and NumPy: /usr/bin/python3 gen.py

model.npz   the state_dict of Net (np.savez, PyTorch's names and dtypes,
            num_batches_tracked included), after a few training-mode
            batches so that the BatchNorm statistics are not 0 and 1
input.npy   a batch of 2 float32 images, 1x8x8
output.npy  Net in eval mode on input.npy (float32, 2x5)
"""
import numpy as np
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2))
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


torch.manual_seed(10)
net = Net()
with torch.no_grad():
    bn = net.features[1]
    bn.weight.uniform_(0.5, 1.5)
    bn.bias.uniform_(-0.5, 0.5)
    net.train()
    for _ in range(3):
        net(torch.randn(8, 1, 8, 8) * 2 + 0.5)
    net.eval()
    x = torch.randn(2, 1, 8, 8)
    y = net(x)

np.savez("model.npz", **{k: v.numpy() for k, v in net.state_dict().items()})
np.save("input.npy", x.numpy())
np.save("output.npy", y.numpy())
