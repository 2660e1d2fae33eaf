#!/usr/bin/env bash
# Models between dagrad and PyTorch/NumPy, both ways (see pytorch_roundtrip.py): builds dagrad,
# installs Debian's python3-torch when missing, and runs the round trips on Fashion-MNIST.
#   bash tests/interop/pytorch_roundtrip.sh [--train-images N] [--models a,b]
#   bash tests/interop/pytorch_roundtrip.sh --fixtures tests/interop/fixtures   # regenerate
# Ends with "pytorch roundtrip: N passed, M failed". Not part of .ci/run (it needs PyTorch, and
# ~5 minutes); the unit tests read the fixtures it wrote.
source "$(dirname "${BASH_SOURCE[0]}")/../../.ci/setup.sh" python3-torch python3-numpy
cd "$DAGRAD_ROOT"
exec /usr/bin/python3 tests/interop/pytorch_roundtrip.py --tool "$DAGRAD_BUILD/tests/dagrad-interop" "$@"
