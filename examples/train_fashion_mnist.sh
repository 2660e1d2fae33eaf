#!/usr/bin/env bash
# The README's main-job command: installs what is missing, builds, and trains a convnet on
# Fashion-MNIST. Arguments go to train-fashion-mnist (try --help).
source "$(dirname "${BASH_SOURCE[0]}")/../.ci/setup.sh"
cd "$DAGRAD_ROOT"
exec "$DAGRAD_BUILD/examples/train-fashion-mnist" "$@"
