"""Writes the .pth fixtures of the tests with PyTorch's own torch.save (run: python3 make_fixtures.py).

Every value is a formula of its position, so the tests check what they read against the same formula
rather than against numbers copied from gpuae.
"""
import collections
import os

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


class MLP(nn.Module):
    """The lab's autoencoder: 784 -> 392 -> z -> 392 -> 784."""

    def __init__(self, z):
        super().__init__()
        self.fc1 = nn.Linear(784, 392)
        self.fc2 = nn.Linear(392, z)
        self.fc3 = nn.Linear(z, 392)
        self.fc4 = nn.Linear(392, 784)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        x = torch.relu(self.fc3(x))
        return torch.sigmoid(self.fc4(x))


def value(tensor_index, k):
    # Small, distinct and exactly representable in float32: multiples of 1/1024 in [-0.05, 0.05].
    return ((k * 7 + tensor_index * 13) % 103 - 51) / 1024.0


def lab_model(z):
    model = MLP(z)
    with torch.no_grad():
        for t, (name, p) in enumerate(model.state_dict().items()):
            flat = torch.tensor([value(t, k) for k in range(p.numel())], dtype=torch.float32)
            p.copy_(flat.reshape(p.shape))
    return model


class Evil:
    """What a hostile file holds: unpickling it would call os.system."""

    def __reduce__(self):
        return (os.system, ("echo this must never run",))


if __name__ == "__main__":
    # The lab's state_dict, exactly as the lab saves it (with the _metadata PyTorch attaches).
    torch.save(lab_model(2).state_dict(), os.path.join(HERE, "lab-z2.pth"))

    # Two tensors that are views into one storage, the second at an offset: torch.save writes the
    # storage once and each tensor's offset into it.
    base = torch.arange(24, dtype=torch.float32) / 4
    small = collections.OrderedDict()
    small["a"] = base[:6].view(2, 3)
    small["b"] = base[10:22].view(3, 4)
    torch.save(small, os.path.join(HERE, "shared-storage.pth"))

    # A foreign global in data.pkl (posix.system): must be refused without being run.
    torch.save(collections.OrderedDict([("fc1.weight", torch.zeros(1)), ("evil", Evil())]), os.path.join(HERE, "foreign-global.pth"))
    print(torch.__version__)
