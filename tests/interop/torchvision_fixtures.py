#!/usr/bin/env python3
"""Writes tests/interop/fixtures/torchvision.json: for AlexNet, VGG-11 and VGG-11 with batch
norm (torchvision 0.14, from Debian's python3-torchvision, 10 classes), the state_dict's names,
the parameter counts of every model dagrad builds, and the eval-mode float64 logits of a fixed
input with weights set by a formula both sides compute (tests/interop/test_torchvision.cpp):

  entry k of the state_dict, element i (flat):
    num_batches_tracked   0
    running_mean          0.1 sin(0.3 i + k)
    running_var           1 + 0.25 sin(0.7 i + k)
    1-D weight (norms)    1 + 0.1 sin(0.5 i + k)
    1-D bias              0.05 sin(0.9 i + k)
    weight of rank >= 2   2 / sqrt(fan_in) sin(0.61 i + k), fan_in = numel / shape[0]
  input element i         sin(0.37 i)

usage: /usr/bin/python3 tests/interop/torchvision_fixtures.py
"""
import json
import math
import os

import torch
import torchvision


def value(name, shape, k):
    n = math.prod(shape)
    i = torch.arange(n, dtype=torch.float64)
    if name.endswith("num_batches_tracked"):
        return None
    if name.endswith("running_mean"):
        v = 0.1 * torch.sin(0.3 * i + k)
    elif name.endswith("running_var"):
        v = 1 + 0.25 * torch.sin(0.7 * i + k)
    elif len(shape) == 1 and name.endswith("weight"):
        v = 1 + 0.1 * torch.sin(0.5 * i + k)
    elif len(shape) == 1:
        v = 0.05 * torch.sin(0.9 * i + k)
    else:
        v = 2 / math.sqrt(n / shape[0]) * torch.sin(0.61 * i + k)
    return v.reshape(shape)


def logits(model, input_shape):
    model = model.double().eval()
    sd = model.state_dict()
    with torch.no_grad():
        for k, (name, t) in enumerate(sd.items()):
            v = value(name, list(t.shape), k)
            if v is not None:
                t.copy_(v)
    n = math.prod(input_shape)
    x = torch.sin(0.37 * torch.arange(n, dtype=torch.float64)).reshape(input_shape)
    with torch.no_grad():
        y = model(x)
    return list(sd.keys()), y.flatten().tolist()


def main():
    out = {"torchvision": torchvision.__version__, "models": {}, "parameters": {}}
    for name, shape in [("alexnet", [2, 3, 64, 64]), ("vgg11", [2, 3, 32, 32]),
                        ("vgg11_bn", [2, 3, 32, 32])]:
        keys, y = logits(getattr(torchvision.models, name)(num_classes=10), shape)
        out["models"][name] = {"input": shape, "keys": keys, "logits": y}
    for name in ["alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn",
                 "vgg16_bn", "vgg19_bn"]:
        m = getattr(torchvision.models, name)()
        out["parameters"][name] = sum(p.numel() for p in m.parameters())
    path = os.path.join(os.path.dirname(__file__), "fixtures", "torchvision.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
