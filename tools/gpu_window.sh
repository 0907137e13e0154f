#!/usr/bin/env bash
# One GPU window: the whole runbook for a lent GPU machine (15 minutes in all, at most 10 per
# command, no network, no .git, only an output folder comes back).
#
#   bash tools/gpu_window.sh [--minutes M] [--profile full|smoke] [--out DIR] [--workers K] [--only NAME ...]
#
# Defaults: 9.5 minutes, the full profile, the output folder $OUT when set (else out/), 3 workers
# for the full profile. The cap covers everything this command does. It checks the machine, then
# starts each pending run (the core set first) only when its estimate, with a safety margin, fits
# the time left; a run that fails is logged and the next one starts. After every run, all results
# so far are packed into DIR/results.tgz (replaced atomically), so a command killed at its limit
# still returns what finished. Before calling it on the device:
#   mkdir -p .data && cp ../shared/data/cifar10-jpeg75.tar.gz .data/    # a copy: links would dangle
#   grep -qx '.data/' .git/info/exclude || echo '.data/' >> .git/info/exclude
# then call the device with carry [".data"] and the command
#   VITCOURSE_COMMIT=<output of git rev-parse HEAD> bash tools/gpu_window.sh
# Back here: tar xzf <files_at>/results.tgz in the repository (partial/ holds runs stopped by the
# cap: measurements, not results to commit), re-execute the chapters' notebooks, commit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
profile=full
for arg in "$@"; do [[ "$arg" == smoke ]] && profile=smoke; done
archive="$PWD/.data/cifar10-jpeg75.tar.gz"
if [[ -z "${VITCOURSE_CIFAR10:-}" ]]; then
    if [[ -f "$archive" && ! -L "$archive" ]]; then
        export VITCOURSE_CIFAR10="$archive"
    elif [[ "$profile" == full ]]; then
        echo "no CIFAR-10 archive at $archive: copy (do not link) ../shared/data/cifar10-jpeg75.tar.gz" \
             "into .data/ and name .data in the device call's carry list" >&2
        exit 2
    fi
fi
if [[ -z "${VITCOURSE_COMMIT:-}" ]]; then   # on the GPU machine there is no .git: pass it in
    VITCOURSE_COMMIT="$(git rev-parse HEAD 2>/dev/null || true)"
    export VITCOURSE_COMMIT
fi
python=python3                              # the GPU machine has python3 only
command -v "$python" >/dev/null || python=python
workers=()
# Three runs at once: in the first window two runs sharing the H100 each went as fast as one alone
# (the small models are bound by launching kernels from Python, not by the GPU). A run that starts
# beside more runs than the calibration measured is planned as that much slower, to be safe.
[[ "$profile" == full ]] && workers=(--workers 3)
exec "$python" -m vitcourse window "${workers[@]}" "$@"
