#!/usr/bin/env python3
"""The lab's autoencoder trained in PyTorch: gpuae's peer, kept beside it as llm.c keeps train_gpt2.py.

Same model (784→392→z→392→784, ReLU×3, Sigmoid, nn.Linear's own initialisation), same loss (MSE),
same optimiser (Adam 1e-3, betas 0.9/0.999, eps 1e-8, learning rate ×0.95 after every epoch), same
batches (2048, reshuffled every epoch, the last partial batch kept), 50 epochs by default.

PyTorch's best honest set-up: the training images live on the device as floats, a batch is gathered
by index from a device-side permutation, and the epoch's loss is summed on the device and read once
per epoch. Warm-up, compilation and graph capture happen before the timed loop, on a snapshot that
is then put back, so the timed loop trains from the initial weights exactly as an untimed run would.
The script does not time its own process: whoever runs it times that from outside.

Prints one JSON object: the variant, the training-loop seconds (sum of the epoch times), the epoch
times, the final train loss and the test-set MSE (computed after the loop, not inside it).

Runs on recent PyTorch (2.x, CUDA) and on PyTorch 1.13 in CPU eager mode.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

VARIANTS = ["eager-fp32", "eager-tf32", "compile-fp32", "compile-tf32", "graphs-fp32", "graphs-tf32"]


def read_idx_images(path):
    """An IDX3 image file (optionally gzipped) as a uint8 array [count, rows·cols]."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count, rows, cols = np.frombuffer(data, dtype=">i4", count=4)
    if magic != 2051:
        raise ValueError(f"{path}: not an IDX image file (magic {magic})")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows * cols)


def find(folder, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{folder}: no {stem}(.gz)")


class Autoencoder(nn.Module):
    """The lab's class: fc1..fc4, as gpuae names the tensors in its safetensors files."""

    def __init__(self, bottleneck=8):
        super().__init__()
        self.fc1 = nn.Linear(784, 392)
        self.fc2 = nn.Linear(392, bottleneck)
        self.fc3 = nn.Linear(bottleneck, 392)
        self.fc4 = nn.Linear(392, 784)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        z = torch.relu(self.fc2(h))
        h = torch.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--variant", choices=VARIANTS, default="eager-fp32")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--data", required=True, help="folder with MNIST's gz IDX files")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (CPU mode)")
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--bottleneck", type=int, default=8)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images only (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    style, precision = args.variant.split("-")
    if args.device == "cpu":
        if style == "graphs":
            ap.error("CUDA graphs need --device cuda")
        if style == "compile" and not hasattr(torch, "compile"):
            ap.error(f"torch {torch.__version__} has no torch.compile")
        torch.set_num_threads(args.threads)
    elif not torch.cuda.is_available():
        print(f"lab1: CUDA is not available to torch {torch.__version__}", file=sys.stderr)
        sys.exit(2)
    if hasattr(torch, "set_float32_matmul_precision"):
        torch.set_float32_matmul_precision("highest" if precision == "fp32" else "high")
    device = torch.device(args.device)
    cuda = device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize()

    train_u8 = read_idx_images(find(args.data, "train-images-idx3-ubyte"))
    test_u8 = read_idx_images(find(args.data, "t10k-images-idx3-ubyte"))
    if args.limit > 0:
        train_u8 = train_u8[: args.limit]
    # Preloaded once as floats on the device: a batch is then a gather, not a copy from the host.
    train = torch.from_numpy(train_u8.copy()).to(device).float().div_(255)
    test = torch.from_numpy(test_u8.copy()).to(device).float().div_(255)
    n, batch = train.shape[0], args.batch

    torch.manual_seed(args.seed)
    model = Autoencoder(args.bottleneck).to(device)
    params = list(model.parameters())
    lr0, gamma = 1e-3, 0.95
    adam = dict(betas=(0.9, 0.999), eps=1e-8)
    if style == "graphs":
        # A captured step reads the learning rate and the step count from device memory.
        opt = torch.optim.Adam(params, lr=torch.tensor(lr0, device=device), capturable=True, **adam)
    elif cuda:
        opt = torch.optim.Adam(params, lr=lr0, fused=True, **adam)
    else:
        opt = torch.optim.Adam(params, lr=lr0, **adam)

    def set_lr(epoch):
        lr = lr0 * gamma ** epoch
        for group in opt.param_groups:
            if torch.is_tensor(group["lr"]):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr

    net = torch.compile(model, dynamic=False) if style == "compile" else model
    loss_sum = torch.zeros((), device=device)

    def step(x):
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((net(x) - x) ** 2)
        loss.backward()
        opt.step()
        return loss.detach()

    # One-time set-up on a snapshot: compile or capture for both batch shapes (full and the last
    # partial batch), then restore the initial weights and a fresh optimiser state in place.
    sizes = sorted({min(batch, n)} | ({n % batch} if n % batch else set()), reverse=True)
    snapshot = [p.detach().clone() for p in params]
    setup_clock = time.perf_counter()
    graphs = {}
    if style == "graphs":
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for rows in sizes:
                for _ in range(3):
                    step(train[:rows])
        torch.cuda.current_stream().wait_stream(side)
        for rows in sizes:
            index = torch.zeros(rows, dtype=torch.long, device=device)
            graph = torch.cuda.CUDAGraph()
            opt.zero_grad(set_to_none=True)
            with torch.cuda.graph(graph):
                loss_sum.add_(step(train.index_select(0, index)))
            graphs[rows] = (graph, index)
    elif style == "compile":
        for rows in sizes:
            for _ in range(3):
                step(train[:rows])
    else:
        step(train[:sizes[0]])  # cuBLAS and allocator warm-up
    sync()
    setup_seconds = time.perf_counter() - setup_clock
    with torch.no_grad():
        for p, s in zip(params, snapshot):
            p.copy_(s)
        for state in opt.state.values():
            for value in state.values():
                if torch.is_tensor(value):
                    value.zero_()
    loss_sum.zero_()

    shuffle = torch.Generator(device=device)
    shuffle.manual_seed(args.seed)
    epoch_seconds, epoch_losses = [], []
    batches = (n + batch - 1) // batch
    for epoch in range(args.epochs):
        sync()
        clock = time.perf_counter()
        set_lr(epoch)
        perm = torch.randperm(n, device=device, generator=shuffle)
        for b in range(batches):
            idx = perm[b * batch:(b + 1) * batch]
            if graphs:
                graph, index = graphs[idx.shape[0]]
                index.copy_(idx)
                graph.replay()
            else:
                loss_sum.add_(step(train.index_select(0, idx)))
        # The one read of the epoch; it also waits for the device.
        epoch_losses.append(loss_sum.item() / batches)
        loss_sum.zero_()
        epoch_seconds.append(time.perf_counter() - clock)

    with torch.no_grad():
        squared = sum(float(((model(chunk) - chunk) ** 2).sum(dtype=torch.float64))
                      for chunk in test.split(10000))
    test_mse = squared / test.numel()

    print(json.dumps({
        "variant": args.variant,
        "device": torch.cuda.get_device_name(device) if cuda else "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads() if not cuda else None,
        "images": n,
        "batch": batch,
        "epochs": args.epochs,
        "setup_seconds": round(setup_seconds, 4),
        "train_loop_seconds": round(sum(epoch_seconds), 4),
        "epoch_seconds": [round(s, 4) for s in epoch_seconds],
        "epoch_losses": [round(l, 6) for l in epoch_losses],
        "final_train_loss": round(epoch_losses[-1], 6) if epoch_losses else None,
        "test_mse": round(test_mse, 6),
    }, indent=1))


if __name__ == "__main__":
    main()
