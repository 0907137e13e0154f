#!/usr/bin/env bash
# One chunk of the full-profile suite on a GPU machine without network access (see issue 9):
#   bash tools/gpu_chunk.sh MINUTES [--bench]
# Expects the offline CIFAR-10 archive at .data/cifar10-jpeg75.tar.gz (git-ignored, carried with
# the working tree). Runs the preflight once per machine (stops if a GPU-only code path is broken;
# a warm machine keeps runs/, where the pass is remembered), optionally the benchmark, then
# pending experiments for MINUTES (finished runs are skipped, interrupted ones resume from
# runs/checkpoints/; the recipe's headline run waits for a call with enough time left). Whatever
# happens, data/results/ and the chunk's log are packed into $OUT/results.tgz, to be unpacked in
# the repository and committed.
#
# A 30-minute device session (10 minutes a call):
#   call 1: bash tools/gpu_chunk.sh 6 --bench   # preflight + bench + the short runs
#   call 2: bash tools/gpu_chunk.sh 9.5         # the headline run (about 9 estimated minutes) first
#   call 3: bash tools/gpu_chunk.sh 9.5
# Fine-tunings need their pre-training's checkpoint in runs/checkpoints/: keep a session's calls on
# one warm machine.
set -euo pipefail
minutes="${1:-8}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export VITCOURSE_CIFAR10="$PWD/.data/cifar10-jpeg75.tar.gz"
if [[ ! -f "$VITCOURSE_CIFAR10" || -L "$VITCOURSE_CIFAR10" ]]; then
    # a symbolic link to ../shared would dangle on the GPU machine, which gets only the checkout
    echo "no CIFAR-10 archive at $VITCOURSE_CIFAR10: copy (do not link) ../shared/data/cifar10-jpeg75.tar.gz" \
         "into .data/ and name .data in the device call's carry list" >&2
    exit 2
fi
export VITCOURSE_EPOCH_LINES=1  # one line per epoch instead of a live bar in the captured log
log="data/results/chunk-$(date -u +%Y%m%dT%H%M%SZ).log"
mkdir -p data/results
pack() {
    if [[ -n "${OUT:-}" ]]; then
        tar czf "$OUT/results.tgz" data/results
    fi
}
trap pack EXIT  # a failed chunk still returns the results it finished and its log
{
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    if [[ ! -f runs/.preflight-passed ]]; then
        python -m vitcourse preflight
        mkdir -p runs && touch runs/.preflight-passed
    fi
    if [[ "${2:-}" == "--bench" ]]; then
        python -m vitcourse bench
    fi
    python -m vitcourse suite --profile full --minutes "$minutes"
    python -m vitcourse list
    python -m vitcourse calibrate   # estimate vs measured minutes so far; fitted constants
} 2>&1 | tee "$log"
