#!/usr/bin/env bash
# The benchmark suite in one command: dagrad and PyTorch side by side, a markdown table at the end.
#
#   bash bench/run.sh [run_benchmarks.py options...]     e.g. bash bench/run.sh --rounds 5 --only mlp,cnn
#
# Installs what is missing (dagrad's build dependencies and Debian's python3-torch), builds
# the release build (build/, or $DAGRAD_BUILD) with the bench programs, then runs
# bench/run_benchmarks.py. Run it on an otherwise idle machine.
source "$(dirname "${BASH_SOURCE[0]}")/../.ci/setup.sh" python3-torch
cd "$DAGRAD_ROOT"
exec /usr/bin/python3 bench/run_benchmarks.py --build "$DAGRAD_BUILD" "$@"
