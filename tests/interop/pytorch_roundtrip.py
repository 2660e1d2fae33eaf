"""PyTorch's and NumPy's half of tests/interop/pytorch_roundtrip.sh.

For each model with a PyTorch equivalent (nn/pytorch.h) it checks both directions on the first
1,000 Fashion-MNIST test images, in eval mode:
  dagrad -> PyTorch: dagrad trains one epoch and exports safetensors (PyTorch names); the file,
      parsed here in a few lines (Debian 12 has no safetensors package), loads into the
      equivalent torch.nn.Sequential with load_state_dict(strict=True);
  PyTorch -> dagrad: PyTorch trains one epoch, saves safetensors, dagrad loads it;
and for the two MLPs the same with .npz and a forward pass written in NumPy. Logits must agree to
1e-4 (max absolute difference) with identical predicted classes.
With --fixtures DIR it only writes the small files the unit tests read (tests/interop/fixtures).
"""
import argparse
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

FASHION = os.environ.get("DAGRAD_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"
DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
TORCH_NAMES = {np.dtype(v): k for k, v in DTYPES.items()}


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header, data = json.loads(raw[8:8 + n]), raw[8 + n:]
    out = OrderedDict()
    for name, e in header.items():
        if name != "__metadata__":
            begin, end = e["data_offsets"]
            a = np.frombuffer(data[begin:end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
            out[name] = torch.from_numpy(a.copy())
    return out


def write_safetensors(path, state):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in state.items():
        a = t.detach().cpu().contiguous().numpy()  # (np.ascontiguousarray makes 0-d arrays 1-d)
        header[name] = {"dtype": TORCH_NAMES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def make_model(name):
    """The torch.nn equivalents of the models dagrad-interop builds."""
    if name == "two_layer":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    if name == "fc_batchnorm":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 100), nn.BatchNorm1d(100), nn.ReLU(),
                             nn.Linear(100, 50), nn.BatchNorm1d(50), nn.ReLU(), nn.Linear(50, 10))
    if name == "three_layer":
        return nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(16 * 14 * 14, 100), nn.ReLU(),
                             nn.Linear(100, 10))
    if name == "lenet5":
        features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        classifier = nn.Sequential(nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                   nn.Linear(84, 10))
    elif name == "vgg":
        features = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32),
                                 nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64),
                                 nn.ReLU(), nn.MaxPool2d(2))
        classifier = nn.Sequential(nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    else:
        raise ValueError(name)
    return nn.Sequential(OrderedDict(features=features, flatten=nn.Flatten(),
                                     classifier=classifier))


def images(split, n):
    with gzip.open(f"{FASHION}/{split}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    with gzip.open(f"{FASHION}/{split}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return torch.from_numpy(x.astype(np.float32) / 255), torch.from_numpy(y.astype(np.int64))


def torch_logits(model, x):
    model.eval()
    with torch.no_grad():
        return model(x).numpy()


def train_torch(model, n):
    x, y = images("train", n)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    for i in range(0, n, 100):
        idx = perm[i:i + 100]
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()


# The cs231n MLPs in NumPy, from .npz arrays under dagrad's names (weights (in, out)).
def numpy_forward(p, x):
    h = x.reshape(len(x), -1).astype(np.float64)
    k = 1
    while f"W{k + 1}" in p:
        h = h @ p[f"W{k}"] + p[f"b{k}"]
        if f"gamma{k}" in p:
            h = (h - p[f"running_mean{k}"]) / np.sqrt(p[f"running_var{k}"] + 1e-5)
            h = h * p[f"gamma{k}"] + p[f"beta{k}"]
        h = np.maximum(h, 0)
        k += 1
    return h @ p[f"W{k}"] + p[f"b{k}"]


def npz_params(model):
    """A torch MLP's parameters under dagrad's (cs231n's) names and layouts."""
    p, k = {}, 0
    for m in model:
        if isinstance(m, nn.Linear):
            k += 1
            p[f"W{k}"], p[f"b{k}"] = m.weight.detach().numpy().T.copy(), m.bias.detach().numpy()
        elif isinstance(m, nn.BatchNorm1d):  # follows Linear k
            p[f"gamma{k}"], p[f"beta{k}"] = m.weight.detach().numpy(), m.bias.detach().numpy()
            p[f"running_mean{k}"] = m.running_mean.numpy()
            p[f"running_var{k}"] = m.running_var.numpy()
    return p


class Results:
    def __init__(self):
        self.passed = self.failed = 0

    def compare(self, what, ours, theirs):
        diff = float(np.max(np.abs(ours.astype(np.float64) - theirs)))
        same = bool(np.all(ours.argmax(1) == theirs.argmax(1)))
        ok = diff <= 1e-4 and same
        self.passed += ok
        self.failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {what}: max |logit difference| {diff:.2e}, "
              f"predicted classes {'identical' if same else 'DIFFER'}", flush=True)


def roundtrip(tool, models, n, tmp):
    res = Results()
    x_test, _ = images("t10k", 1000)
    for name in models:
        st, npz, out = (os.path.join(tmp, f"{name}{ext}") for ext in (".safetensors", ".npz", ".npy"))
        # dagrad -> PyTorch (and NumPy for the MLPs)
        subprocess.run([tool, "train", name, str(n), st, npz], check=True)
        subprocess.run([tool, "logits", name, st, out], check=True)
        ours = np.load(out)
        model = make_model(name)
        model.load_state_dict(read_safetensors(st), strict=True)
        res.compare(f"{name}: dagrad-trained, safetensors into torch.nn", ours, torch_logits(model, x_test))
        if name in ("two_layer", "fc_batchnorm"):
            with np.load(npz) as p:
                res.compare(f"{name}: dagrad-trained, npz into NumPy", ours,
                            numpy_forward(dict(p), x_test.numpy()))
        # PyTorch -> dagrad (and NumPy -> dagrad)
        torch.manual_seed(0)
        model = make_model(name)
        train_torch(model, n)
        write_safetensors(st, model.state_dict())
        subprocess.run([tool, "logits", name, st, out], check=True)
        res.compare(f"{name}: torch-trained, safetensors into dagrad", np.load(out),
                    torch_logits(model, x_test))
        if name in ("two_layer", "fc_batchnorm"):
            p = npz_params(model)
            (np.savez_compressed if name == "fc_batchnorm" else np.savez)(npz, **p)
            subprocess.run([tool, "logits", name, npz, out], check=True)
            res.compare(f"{name}: torch-trained, npz (np.savez{'_compressed' if name == 'fc_batchnorm' else ''}) into dagrad",
                        np.load(out), numpy_forward(p, x_test.numpy()))
    print(f"pytorch roundtrip: {res.passed} passed, {res.failed} failed")
    return res.failed == 0


def write_fixtures(out):
    """Small models with torch's random weights and batch-norm statistics, an input and torch's
    logits: tests/interop/test_fixtures.cpp rebuilds them in dagrad and compares."""
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1)
    vgg = nn.Sequential(OrderedDict(
        features=nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.BatchNorm2d(2),
                               nn.ReLU(), nn.MaxPool2d(2),
                               nn.Conv2d(2, 3, 3, padding=1, bias=False), nn.BatchNorm2d(3),
                               nn.ReLU(), nn.MaxPool2d(2)),
        flatten=nn.Flatten(),
        classifier=nn.Sequential(nn.Linear(3 * 2 * 2, 5), nn.ReLU(), nn.Linear(5, 4)))).double()
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(),
                        nn.Linear(5, 3)).double()
    for model, shape in ((vgg, (8, 1, 8, 8)), (mlp, (8, 6))):
        model.train()
        for _ in range(3):  # moves the running statistics; num_batches_tracked = 3
            model(torch.randn(shape, dtype=torch.float64))
    x_img, x_vec = torch.randn(4, 1, 8, 8, dtype=torch.float64), torch.randn(4, 6, dtype=torch.float64)
    write_safetensors(f"{out}/vgg_small.safetensors", vgg.state_dict())
    write_safetensors(f"{out}/vgg_small_io.safetensors",
                      {"x": x_img, "logits": torch.from_numpy(torch_logits(vgg, x_img))})
    np.savez(f"{out}/mlp_small.npz", **npz_params(mlp))
    np.savez_compressed(f"{out}/mlp_small_io.npz", x=x_vec.numpy(), logits=torch_logits(mlp, x_vec))
    print(f"fixtures written to {out}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", help="dagrad-interop binary")
    ap.add_argument("--models", default="two_layer,fc_batchnorm,three_layer,lenet5,vgg")
    ap.add_argument("--train-images", type=int, default=60000)
    ap.add_argument("--fixtures", help="only write the unit-test fixtures into this folder")
    a = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if a.fixtures:
        write_fixtures(a.fixtures)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        return 0 if roundtrip(a.tool, a.models.split(","), a.train_images, tmp) else 1


if __name__ == "__main__":
    sys.exit(main())
