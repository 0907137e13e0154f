"""Command line: `python -m vitcourse list | run NAME | suite | window | bench | preflight | calibrate`.

Every error prints one line, `error: ...`, naming the value and the fix, and exits non-zero (2 for
a bad argument); `--debug` (anywhere on the line, or VITCOURSE_DEBUG=1) shows the traceback too.
Ctrl-C exits with 130 and says how to resume.
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import shlex
import subprocess
import sys

import torch

from vitcourse.train.runlog import RUN_LOG, RunLogError

from . import paths
from .bench import experiment_model, format_report, run_bench
from .budget import current_rates, experiment_cpu_minutes, experiment_gpu_minutes
from .calibrate import report
from .experiment import PROFILES
from .preflight import format_checks, run_preflight
from .registry import EXPERIMENTS, get_experiment
from .results import is_finished, saved_log
from .runner import default_seed, finished_log, run_experiment
from .suite import finished, run_suite, split_for_workers
from .window import run_window


class UsageError(ValueError):
    """A bad command line: exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):   # one line, through main's handler, instead of usage + exit
        raise UsageError(message)


def main(argv=None) -> int:
    """Run the command line; errors become one line on stderr and an exit status (see the module)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("VITCOURSE_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    try:
        return _main(argv)
    except KeyboardInterrupt:
        if debug:
            raise
        command = next((a for a in argv if not a.startswith("-")), "")
        hint = (f": run `{_command_line(argv)}` again to resume after the last completed epoch"
                if command in ("run", "suite") else "")
        print(f"\ninterrupted{hint}", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            raise
        print(f"error: {_message(err)}", file=sys.stderr)
        return 2 if isinstance(err, UsageError) else 1


def _message(err: Exception) -> str:
    """The message the code wrote for the user; the exception's type and the --debug hint when the
    error is not one the code raises on purpose."""
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    if isinstance(err, (ValueError, KeyError, RuntimeError, OSError)):
        return text
    return f"{type(err).__name__}: {text} (add --debug for the traceback)"


def _command_line(argv: list[str]) -> str:
    return shlex.join(["python", "-m", "vitcourse", *argv])


def _experiment(name: str) -> str:
    if name not in EXPERIMENTS:
        close = difflib.get_close_matches(name, EXPERIMENTS, n=3)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise argparse.ArgumentTypeError(f"unknown experiment {name!r}{hint}: `python -m vitcourse list` "
                                         "shows the registered ones")
    return name


def _count(text: str, least: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < least:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}: use an integer >= {least}")
    return value


def _seed(text: str) -> int:
    return _count(text, 0, "a seed")


def _positive(text: str) -> int:
    return _count(text, 1, "a positive count")


def _count_or_zero(text: str) -> int:
    return _count(text, 0, "a count >= 0")


def _positive_number(text: str, what: str, example: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}: give {example}")
    return value


def _seconds(text: str) -> float:
    return _positive_number(text, "a time limit", "seconds as a number > 0, e.g. --time-limit 300")


def _minutes(text: str) -> float:
    return _positive_number(text, "a time budget", "the minutes as a number > 0, e.g. --minutes 9")


def _device(text: str) -> str:
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a device: use cpu, cuda or cuda:N (leave "
                                         "--device out to use the GPU when there is one)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}, but torch sees no CUDA GPU on this machine: use "
                                         "--device cpu, or leave --device out")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text!r}, but this machine has {torch.cuda.device_count()} "
                                         "GPU(s), numbered from cuda:0")
    return text


def _print_invalid_logs() -> None:
    """One line per run log that fails validation: not a finished run, whatever its status says."""
    for name, exp in EXPERIMENTS.items():
        for profile in PROFILES:
            for seed in exp.seeds_for(profile):
                try:
                    saved_log(name, profile, seed)
                except RunLogError as err:
                    print(f"invalid (not counted as finished; `run` or the suite sets it aside and runs it "
                          f"again): {err.path}: {'; '.join(err.problems)}")


def _refuse_cpu_full(args) -> None:
    """The full profile is GPU-scale: on a CPU it needs asking for by name."""
    chosen = getattr(args, "device", None)   # `window` has no --device: it takes the GPU
    device = torch.device(chosen or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.profile == "full" and device.type == "cpu" and not args.allow_cpu_full:
        where = "--device cpu was given" if chosen else "this machine has no GPU"
        raise UsageError(f"the full profile is GPU-scale (hours per run on a CPU) and {where}: use "
                         "--profile cpu (laptop-scale results) or --profile smoke (seconds), or add "
                         "--allow-cpu-full to run it on the CPU anyway")


def _main(argv: list[str]) -> int:
    parser = _Parser(prog="python -m vitcourse", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="cmd", required=True)
    listing = sub.add_parser("list", help="the registered experiments and their status")
    listing.add_argument("--profile", default=None, choices=["cpu"],
                         help="cpu: only the experiments with a cpu profile, with estimated CPU minutes")
    listing.add_argument("--core", action="store_true",
                         help="only the core set (the runs carrying each chapter's main claim, in the "
                              "order a GPU window runs them), with estimated H100-minutes")
    run = sub.add_parser("run", help="run (or resume) one experiment",
                         description="Run (or resume) one registered experiment. `python -m vitcourse list` "
                                     "shows the experiment names and `list --profile cpu` those with a cpu profile.")
    run.add_argument("name", type=_experiment, help="a registered experiment (see `python -m vitcourse list`)")
    run.add_argument("--profile", default="smoke", choices=["smoke", "cpu", "full"],
                     help="smoke (default: seconds, proves the code runs), cpu (laptop-scale result) "
                          "or full (one GPU)")
    run.add_argument("--seed", type=_seed, default=None)
    run.add_argument("--device", type=_device, default=None)
    run.add_argument("--threads", type=_positive, default=None, help="CPU threads for torch (default: all cores)")
    run.add_argument("--allow-cpu-full", action="store_true",
                     help="run the full (GPU-scale) profile on a CPU, which is refused otherwise")
    run.add_argument("--time-limit", type=_seconds, default=None, metavar="SECONDS",
                     help="stop between epochs before this many seconds are spent (resumable)")
    run.add_argument("--checkpoint-every", type=_count_or_zero, default=1, metavar="EPOCHS",
                     help="save the checkpoint every this many epochs (default 1; 0: only after the "
                          "last, or when stopped early: a GPU window's runs never span two windows)")
    suite = sub.add_parser("suite", help="run pending experiments until a time budget is spent")
    suite.add_argument("--profile", default="full", choices=["smoke", "cpu", "full"],
                       help="full (default: a GPU job; refused on a CPU without --allow-cpu-full), cpu or smoke")
    suite.add_argument("--minutes", type=_minutes, default=9.0)
    suite.add_argument("--only", nargs="*", type=_experiment, default=None, help="experiment names (default: all)")
    suite.add_argument("--device", type=_device, default=None)
    suite.add_argument("--threads", type=_positive, default=None, help="CPU threads for torch (default: all cores)")
    suite.add_argument("--allow-cpu-full", action="store_true",
                       help="run the full (GPU-scale) profile on a CPU, which is refused otherwise")
    suite.add_argument("--workers", type=_positive, default=1,
                       help="run the pending experiments in this many processes at once, split by "
                            "estimated minutes (a CPU runs two one-thread workers faster than one)")
    window = sub.add_parser("window", help="one GPU window: pending runs, core first, packed after each",
                            description="What tools/gpu_window.sh runs on a lent GPU machine: checks, then "
                                        "the pending runs that fit, each packed into OUT/results.tgz as it ends.")
    window.add_argument("--minutes", type=_minutes, default=9.5, help="the cap on everything (default 9.5)")
    window.add_argument("--profile", default="full", choices=["smoke", "full"],
                        help="full (default; refused on a CPU without --allow-cpu-full); smoke tries the "
                             "same plan on a CPU")
    window.add_argument("--out", default=os.environ.get("OUT") or "out",
                        help="output folder (default: $OUT when set, else out/)")
    window.add_argument("--workers", type=_positive, default=1, help="runs at once on the one device")
    window.add_argument("--only", nargs="*", type=_experiment, default=None, help="experiment names (default: all)")
    window.add_argument("--allow-cpu-full", action="store_true",
                        help="run the full (GPU-scale) profile on a CPU, which is refused otherwise")
    bench = sub.add_parser("bench", help="throughput: vitcourse vs timm, compile, attention, pipeline")
    bench.add_argument("--device", type=_device, default=None)
    bench.add_argument("--batch", type=_positive, default=None)
    bench.add_argument("--steps", type=_positive, default=None)
    bench.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                       help="also measure torch.compile (default: on for CUDA, off for CPU)")
    bench.add_argument("--experiment", type=_experiment, default=None,
                       help="bench the ViT shape and batch of this experiment's full profile")
    bench.add_argument("--out", default=None, help="folder for the report (default: data/results/bench)")
    preflight = sub.add_parser("preflight", help="one-minute check of the GPU-only code paths before a suite")
    preflight.add_argument("--device", type=_device, default=None)
    preflight.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                           help="exercise torch.compile (default: on for CUDA, off for CPU)")
    sub.add_parser("calibrate", help="GPU-time estimate vs the measured full runs; fitted constants")
    args = parser.parse_args(argv)
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)

    if args.cmd == "calibrate":
        print(report())
        return 0

    if args.cmd == "preflight":
        results = run_preflight(args.device, args.compile)
        print(format_checks(results))
        return 0 if all(c.ok for c in results) else 1

    if args.cmd == "window":
        _refuse_cpu_full(args)
        run_window(args.profile, args.minutes, args.out, args.workers, args.only)
        return 0

    if args.cmd == "list":
        if args.core:
            total = 0.0
            for name, exp in sorted(((n, e) for n, e in EXPERIMENTS.items() if e.core is not None),
                                    key=lambda item: item[1].core):
                done = sum(is_finished(name, "full", s) for s in exp.seeds_for("full"))
                minutes = experiment_gpu_minutes(exp)
                total += minutes
                print(f"{exp.core + 1:2d}. {name:28s} full:{done}/{len(exp.seeds_for('full'))}  "
                      f"~{minutes:4.2f} GPU-min  {exp.chapter}")
            print(f"total: {total:.1f} estimated minutes ({current_rates().source} rates, one H100)")
            return 0
        if args.profile == "cpu":
            total = 0.0
            for name, exp in EXPERIMENTS.items():
                if exp.has_profile("cpu"):
                    done = sum(is_finished(name, "cpu", s) for s in exp.seeds_for("cpu"))
                    minutes = experiment_cpu_minutes(exp)
                    total += minutes
                    print(f"{name:28s} cpu:{done}/{len(exp.seeds_for('cpu'))}  ~{minutes:4.1f} CPU-min  {exp.chapter}")
            print(f"total: {total:.0f} estimated minutes on two CPU cores")
            _print_invalid_logs()
            return 0
        total = 0.0
        for name, exp in EXPERIMENTS.items():
            status = " ".join(f"{p}:{sum(is_finished(name, p, s) for s in exp.seeds_for(p))}/{len(exp.seeds_for(p))}"
                              for p in ("smoke", "cpu", "full") if exp.has_profile(p))
            minutes = experiment_gpu_minutes(exp)
            total += minutes
            print(f"{name:28s} {status:30s} ~{minutes:5.1f} GPU-min  {exp.chapter} — {exp.description}")
        print(f"estimated full-profile total: ~{total:.0f} GPU-minutes on an H100 (see vitcourse/lab/budget.py)")
        _print_invalid_logs()
        return 0
    if args.cmd == "run":
        _refuse_cpu_full(args)
        seed = default_seed(get_experiment(args.name), args.profile) if args.seed is None else args.seed
        done = finished_log(args.name, args.profile, seed)
        log = done or run_experiment(args.name, args.profile, seed, device=args.device,
                                     time_limit_s=args.time_limit, checkpoint_every=args.checkpoint_every)
        final = log["epochs"][-1] if log.get("epochs") else {}
        if os.environ.get("RANK", "0") == "0":  # under torchrun, one summary line
            status = (f"skipped (already finished: {paths.run_dir(args.name, args.profile, seed) / RUN_LOG})"
                      if done else log["status"])
            print(f"{args.name} [{args.profile}] {status}: test acc {final.get('test_acc')}, "
                  f"wall time {log.get('wall_time_s', 0):.1f} s")
        return 0 if log["status"] == "finished" else 1
    if args.cmd == "suite":
        _refuse_cpu_full(args)
        if args.workers > 1:
            return _parallel_suite(args)
        skipped = finished(args.profile, args.only)
        summary = run_suite(args.profile, args.minutes, args.only, device=args.device)
        if skipped:
            print(f"skipped (already finished): {len(skipped)} runs"
                  + (f": {skipped}" if args.only else ""))
        print(f"finished this call: {summary['finished']}")
        print(f"still pending: {summary['pending'] or 'none'}")
        if summary["invalid"]:
            print(f"invalid run logs (not results; the next call sets each aside and runs it again): "
                  f"{summary['invalid']}")
        if summary["deferred"]:
            print(f"deferred to a job of their own (need a whole GPU job; start the next call with "
                  f"--minutes 9.5): {summary['deferred']}")
        if summary["stale"]:
            print(f"stale (trained with an older spec; move the run folders aside to rerun): {summary['stale']}")
        if summary["diverged"]:
            print(f"diverged (logged, not retried; delete the run's folder to retry): {summary['diverged']}")
        return 0
    if args.cmd == "bench":
        model_kw, batch = experiment_model(args.experiment) if args.experiment else (None, None)
        print(format_report(run_bench(args.device, args.batch or batch, args.steps, args.compile,
                                      out_dir=args.out, model_kw=model_kw)))
        return 0
    return 2


def _parallel_suite(args) -> int:
    """`suite --workers N`: N child suites, each on its own share of the pending runs."""
    shares = split_for_workers(args.profile, args.workers, args.only)
    threads = args.threads or 1
    children = []
    for share in shares:
        cmd = [sys.executable, "-m", "vitcourse", "suite", "--profile", args.profile, "--minutes",
               str(args.minutes), "--threads", str(threads), "--only", *share]
        if args.device:
            cmd += ["--device", args.device]
        if args.allow_cpu_full:
            cmd.append("--allow-cpu-full")
        print(f"worker {len(children) + 1}: {' '.join(share)}", flush=True)
        children.append(subprocess.Popen(cmd))
    codes = [child.wait() for child in children]
    return max(codes, default=0)

