"""One GPU window: as many pending runs as fit in M minutes, every result packed as soon as it exists.

`bash tools/gpu_window.sh` runs `python -m vitcourse window`. A lent GPU machine gives 15 minutes
in all and at most 10 per command, starts bare, and hands back only an output folder, so one
command must turn its minutes into files that can be committed:

1. a quick check of the machine (preflight without compilation, well under 45 s) and the dataset
   decoded once, so every run's process loads it from the cache;
2. the pending runs in order of value (the core set of `catalog/core_set.py`, then the rest in
   suite order), each started only when its estimate x MARGIN fits the time left (a run with a
   time budget stops itself, so its budget plus BUDGET_OVERRUN_S must fit); a run that needs the
   whole window (the headline) waits until a calibration makes its estimate trustworthy;
3. each run in its own process (an out-of-memory error, a failed compilation or a crash ends that
   run, and the next starts), up to `workers` at once on the one GPU;
4. after every run: the calibration recomputed from the measured logs, the kept weights exported
   (bf16), and everything new packed into OUT/results.tgz (written beside, then renamed: a kill
   while packing leaves the previous archive whole).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tarfile
import time
import traceback
from pathlib import Path
from typing import IO

import torch

from vitcourse import REPO_ROOT

from . import budget, paths
from .build import prepare_dataset
from .calibrate import measure_augmentation, write_calibration
from .preflight import format_checks, run_preflight
from .registry import EXPERIMENTS
from .results import run_status
from .suite import depends_on, pending
from .weights import export_weights

MARGIN = 1.25          # a run starts only if estimate x MARGIN + PROCESS_S fits the time left
PROCESS_S = 10.0       # per run, beyond the estimate's start-up: a new process and CUDA context
PACK_RESERVE_S = 15.0  # kept free at the end for stopping runs and the last pack
BUDGET_OVERRUN_S = 30.0   # a time-budgeted run past its budget: its last epoch, test pass and export
ARCHIVE = "results.tgz"
LOG = "window.log"


@dataclasses.dataclass
class Planned:
    name: str
    seed: int
    minutes: float     # estimate of one run (one seed)
    whole: bool        # needs a window of its own: never split
    budgeted: bool = False   # trains as many epochs as fit its time budget (its estimate is exact)

    def need_s(self, sharing: float) -> float:
        """Seconds to keep free before starting it, beside runs that make it `sharing` x slower."""
        if self.budgeted:   # it measures its own speed and stops in time, even while sharing
            return 60 * self.minutes + BUDGET_OVERRUN_S + PROCESS_S
        return 60 * self.minutes * MARGIN * sharing + PROCESS_S


def plan(profile: str, names=None, rates: budget.Rates | None = None) -> list[Planned]:
    """The pending runs of `profile` (or of `names`) in window order: core by rank, then the rest;
    a whole-window run goes after the rest of the core while the estimate is uncalibrated."""
    rates = rates or budget.current_rates()
    calibrated = rates.source != "assumed"

    def key(item):   # a stable sort: the extended runs keep pending()'s suite order
        exp = EXPERIMENTS[item[0]]
        if exp.core is None:
            return (1, 0)
        return (0, int(exp.whole_job and not calibrated), exp.core)

    out = []
    for name, seed in sorted(pending(profile, names), key=key):
        spec = EXPERIMENTS[name].profile(profile)
        minutes = (budget.cost_terms(spec).estimate(rates) if profile == "full"
                   else budget.estimate_cpu_minutes(spec))
        budgeted = profile == "full" and spec["train"].get("time_budget_min") is not None
        out.append(Planned(name, seed, minutes, EXPERIMENTS[name].whole_job, budgeted))
    return out


class Window:
    def __init__(self, profile: str = "full", minutes: float = 9.5, out: Path | str = "out",
                 workers: int = 1, names=None, python: str = sys.executable):
        self.start = time.monotonic()
        self.deadline = self.start + 60 * minutes - PACK_RESERVE_S
        self.profile, self.workers, self.names, self.python = profile, workers, names, python
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.logs = paths.runs_root() / "window" / self.stamp      # each run's captured output
        self.logs.mkdir(parents=True, exist_ok=True)
        self.log_path = self.logs / LOG
        self.log_path.touch()
        self.started_wall = time.time()
        self.weights_dir = None if profile == "full" else paths.runs_root() / "window-weights"
        self.outcomes: dict[str, str] = {}
        self.stopped: set[tuple[str, int]] = set()   # runs this window killed: never results

    # -- bookkeeping -------------------------------------------------------------------------
    def left(self) -> float:
        return self.deadline - time.monotonic()

    def note(self, text: str) -> None:
        line = f"[{time.monotonic() - self.start:6.1f} s] {text}"
        print(line, flush=True)
        with self.log_path.open("a") as f:
            f.write(line + "\n")

    def _new_files(self) -> list[tuple[Path, str]]:
        """(file, name in the archive) of everything this window wrote. Run folders whose log is
        not final go under partial/: their epochs are measurements, not results to commit."""
        since = self.started_wall - 1
        files = []
        root = paths.results_root(self.profile)
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            if path.is_file() and path.suffix != ".lock" and path.stat().st_mtime >= since:
                files.append((path, self._arcname(path, final=self._final(path, root))))
        weights = self.weights_dir or (paths.data_root() / "weights")
        for path in sorted(weights.glob(f"*-{self.profile}.*")) if weights.is_dir() else []:
            if path.stat().st_mtime >= since:
                files.append((path, self._arcname(path)))
        for path in sorted(self.logs.iterdir()):   # committed beside the results: what ran, what failed
            files.append((path, f"data/results/windows/{self.stamp}/{path.name}"))
        return files

    def _final(self, path: Path, root: Path) -> bool:
        parts = path.relative_to(root).parts
        if len(parts) < 4:          # calibration.json and other files of the results root
            return True
        if not parts[2].startswith("seed") or not parts[2].removeprefix("seed").isdigit():
            return False
        seed = int(parts[2].removeprefix("seed"))
        # A run killed after its log said "finished" may not have saved its arrays yet (they
        # are written after training): the window cannot tell, so it is partial too.
        return (parts[0], seed) not in self.stopped and run_status(parts[0], parts[1], seed) in ("finished", "diverged")

    @staticmethod
    def _arcname(path: Path, final: bool = True) -> str:
        try:
            name = str(path.relative_to(REPO_ROOT))
        except ValueError:          # a results root outside the checkout (tests)
            name = str(Path("outside") / path.relative_to(path.anchor))
        return name if final else f"partial/{name}"

    def pack(self) -> None:
        """Everything new into OUT/results.tgz, atomically, and a plain copy of the window log."""
        tmp = self.out / f".{ARCHIVE}.partial"
        with tarfile.open(tmp, "w:gz") as tar:
            for path, name in self._new_files():
                tar.add(path, arcname=name)
        os.replace(tmp, self.out / ARCHIVE)
        log_tmp = self.out / f".{LOG}.partial"
        log_tmp.write_bytes(self.log_path.read_bytes())
        os.replace(log_tmp, self.out / LOG)

    # -- the window ----------------------------------------------------------------------------
    def run(self) -> dict[str, str]:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.note(f"window: profile {self.profile}, {(self.deadline - self.start + PACK_RESERVE_S) / 60:.1f} "
                  f"minutes, {self.workers} worker(s), device {device}, commit "
                  f"{os.environ.get('VITCOURSE_COMMIT') or 'unknown (set VITCOURSE_COMMIT)'}")
        queue = plan(self.profile, self.names)
        self._guarded("checks", self._checks, device, queue[:1])
        self.pack()
        self.note(f"plan: {len(queue)} pending runs, {sum(p.minutes for p in queue):.1f} estimated minutes "
                  f"({budget.current_rates().source} rates)")
        running: dict[subprocess.Popen, tuple[Planned, float, IO]] = {}   # run, start, its output
        while queue or running:
            self._start_what_fits(queue, running)
            if not running:
                break
            if self.left() <= 0:
                self._stop(running)
                break
            self._reap(running)
            time.sleep(0.2)
        for item in queue:
            self.outcomes.setdefault(f"{item.name} seed {item.seed}", "not started")
        self.note("window done: " + "; ".join(f"{k}: {v}" for k, v in self.outcomes.items()))
        self.pack()
        return self.outcomes

    def _guarded(self, what: str, step, *args) -> None:
        """A step that must not end the window: its failure is logged and the window goes on."""
        try:
            step(*args)
        except Exception as err:
            self.note(f"{what} failed ({type(err).__name__}: {err}); going on\n"
                      f"{traceback.format_exc(limit=3)}")

    def _checks(self, device: str, first: list[Planned]) -> None:
        t = time.monotonic()
        # Compilation is tried by the runs themselves. A CPU simulation (smoke) leaves out the
        # training check: its runs, seconds long, are that check.
        checks = run_preflight(device, compile=False, training=self.profile == "full")
        self.note(f"preflight ({time.monotonic() - t:.1f} s):\n{format_checks(checks)}")
        for item in first:   # decoded once here, so every run's process loads the cache
            t = time.monotonic()
            prepare_dataset(EXPERIMENTS[item.name].profile(self.profile)["data"])
            self.note(f"dataset ready ({time.monotonic() - t:.1f} s)")
        t = time.monotonic()
        self.augment_us = measure_augmentation(device)
        self.note(f"augmentation per image: {self.augment_us} us ({time.monotonic() - t:.1f} s)")

    def _start_what_fits(self, queue: list[Planned], running: dict) -> None:
        for item in list(queue):
            if len(running) >= self.workers or any(r[0].whole for r in running.values()):
                return      # a whole-window run keeps the GPU to itself until it ends
            source = depends_on(item.name, self.profile)
            source_seed = _source_seed(source, self.profile, item.seed) if source else None
            if source is not None and run_status(source, self.profile, source_seed) != "finished":
                if any(p.name == source for p in queue) or any(r[0].name == source for r in running.values()):
                    continue        # its pre-training or teacher comes first
                queue.remove(item)
                self.outcomes[f"{item.name} seed {item.seed}"] = f"skipped: needs {source}, not finished"
                continue
            need = item.need_s(self._sharing(len(running) + 1))
            if item.whole and running:
                continue            # a whole-window run has the GPU to itself
            if need > self.left():
                queue.remove(item)
                self.outcomes[f"{item.name} seed {item.seed}"] = (
                    f"not started: needs ~{need / 60:.1f} min with margin, {self.left() / 60:.1f} left")
                continue
            queue.remove(item)
            output = (self.logs / f"{item.name}-seed{item.seed}.log").open("w")
            running[self._launch(item, output)] = (item, time.monotonic(), output)

    @staticmethod
    def _sharing(runs: int) -> float:
        """How much longer than its estimate a run takes beside others: the estimate already
        holds the sharing of the window that measured the rates (its `workers`), not more."""
        return max(1.0, runs / budget.current_rates().workers)

    def _launch(self, item: Planned, output: IO) -> subprocess.Popen:
        limit = max(self.left() - 5, 1)
        cmd = [self.python, "-m", "vitcourse", "run", item.name, "--profile", self.profile,
               "--seed", str(item.seed), "--time-limit", f"{limit:.0f}",
               "--checkpoint-every", "0"]   # no run spans two windows: only the final weights are needed
        self.note(f"start {item.name} seed {item.seed} (estimate {item.minutes:.2f} min, "
                  f"{self.left() / 60:.1f} min left)")
        env = {**os.environ, "VITCOURSE_EPOCH_LINES": "1"}
        return subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def _reap(self, running: dict) -> None:
        for proc in [p for p in running if p.poll() is not None]:
            item, started, output = running.pop(proc)
            output.close()
            key = f"{item.name} seed {item.seed}"
            status = run_status(item.name, self.profile, item.seed)
            minutes = (time.monotonic() - started) / 60
            if proc.returncode == 0 and status == "finished":
                self.outcomes[key] = f"finished in {minutes:.2f} min (estimate {item.minutes:.2f})"
                if EXPERIMENTS[item.name].keep_weights:
                    self._guarded("weights export", self._export, item)
            elif status == "running" and proc.returncode in (0, 1):
                self.outcomes[key] = (f"stopped by its time limit after {minutes:.2f} min (estimate "
                                      f"{item.minutes:.2f}): its epochs are packed under partial/")
            else:
                tail = (self.logs / f"{item.name}-seed{item.seed}.log").read_text(errors="replace")
                tail = "\n".join(tail.strip().splitlines()[-3:])
                self.outcomes[key] = f"failed (exit {proc.returncode}, log {status}) after {minutes:.2f} min"
                self.note(f"{key}: {self.outcomes[key]}; last lines:\n{tail}")
            self.note(f"{key}: {self.outcomes[key]}")
            self._guarded("calibration", self._calibrate)
            self._guarded("packing", self.pack)

    def _export(self, item: Planned) -> None:
        record = export_weights(item.name, self.profile, item.seed, dtype=torch.bfloat16,
                                root=self.weights_dir)
        self.note(f"weights of {item.name} exported: {record.with_suffix('.safetensors').name}")

    def _calibrate(self) -> None:
        if self.profile == "full":
            path = write_calibration(getattr(self, "augment_us", None), self.workers)
            if path is not None:
                self.note(f"calibration updated: {path.name}")

    def _stop(self, running: dict) -> None:
        for proc, (item, _, _) in running.items():
            self.note(f"time is up: stopping {item.name} seed {item.seed} (its finished epochs are "
                      f"packed under partial/)")
            proc.terminate()
        for proc, (item, _, output) in running.items():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
            output.close()
            self.stopped.add((item.name, item.seed))
            self.outcomes[f"{item.name} seed {item.seed}"] = "stopped at the end of the window"


def _source_seed(source: str, profile: str, seed: int) -> int:
    """The seed of a pre-training or teacher a run starts from: its own seed, else the source's first
    (as `runner.trained_model` picks it)."""
    seeds = EXPERIMENTS[source].seeds_for(profile)
    return seed if seed in seeds or not seeds else seeds[0]


def run_window(profile: str = "full", minutes: float = 9.5, out: Path | str = "out", workers: int = 1,
               names=None) -> dict[str, str]:
    return Window(profile, minutes, out, workers, names).run()
