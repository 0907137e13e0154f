"""Command line: `python -m vitcourse list | run NAME | suite | window | bench | preflight | calibrate`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import torch

from .bench import format_report, run_bench
from .budget import current_rates, experiment_cpu_minutes, experiment_gpu_minutes
from .calibrate import report
from .preflight import format_checks, run_preflight
from .registry import EXPERIMENTS
from .results import is_finished
from .runner import run_experiment
from .suite import run_suite, split_for_workers
from .window import run_window


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vitcourse", description=__doc__)
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
    run.add_argument("name", help="a registered experiment (see `python -m vitcourse list`)")
    run.add_argument("--profile", default="smoke", choices=["smoke", "cpu", "full"],
                     help="smoke (default: seconds, proves the code runs), cpu (laptop-scale result) "
                          "or full (one GPU)")
    run.add_argument("--seed", type=int, default=None)
    run.add_argument("--device", default=None)
    run.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: all cores)")
    run.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                     help="stop between epochs before this many seconds are spent (resumable)")
    suite = sub.add_parser("suite", help="run pending experiments until a time budget is spent")
    suite.add_argument("--profile", default="full", choices=["smoke", "cpu", "full"])
    suite.add_argument("--minutes", type=float, default=9.0)
    suite.add_argument("--only", nargs="*", default=None, help="experiment names (default: all)")
    suite.add_argument("--device", default=None)
    suite.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: all cores)")
    suite.add_argument("--workers", type=int, default=1,
                       help="run the pending experiments in this many processes at once, split by "
                            "estimated minutes (a CPU runs two one-thread workers faster than one)")
    window = sub.add_parser("window", help="one GPU window: pending runs, core first, packed after each",
                            description="What tools/gpu_window.sh runs on a lent GPU machine: checks, then "
                                        "the pending runs that fit, each packed into OUT/results.tgz as it ends.")
    window.add_argument("--minutes", type=float, default=9.5, help="the cap on everything (default 9.5)")
    window.add_argument("--profile", default="full", choices=["smoke", "full"],
                        help="full (default) on a GPU; smoke tries the same plan on a CPU")
    window.add_argument("--out", default=os.environ.get("OUT") or "out",
                        help="output folder (default: $OUT when set, else out/)")
    window.add_argument("--workers", type=int, default=1, help="runs at once on the one device")
    window.add_argument("--only", nargs="*", default=None, help="experiment names (default: all)")
    bench = sub.add_parser("bench", help="throughput: vitcourse vs timm, compile, attention, pipeline")
    bench.add_argument("--device", default=None)
    bench.add_argument("--batch", type=int, default=None)
    bench.add_argument("--steps", type=int, default=None)
    bench.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                       help="also measure torch.compile (default: on for CUDA, off for CPU)")
    preflight = sub.add_parser("preflight", help="one-minute check of the GPU-only code paths before a suite")
    preflight.add_argument("--device", default=None)
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
            return 0
        total = 0.0
        for name, exp in EXPERIMENTS.items():
            status = " ".join(f"{p}:{sum(is_finished(name, p, s) for s in exp.seeds_for(p))}/{len(exp.seeds_for(p))}"
                              for p in ("smoke", "cpu", "full") if exp.has_profile(p))
            minutes = experiment_gpu_minutes(exp)
            total += minutes
            print(f"{name:28s} {status:30s} ~{minutes:5.1f} GPU-min  {exp.chapter} — {exp.description}")
        print(f"estimated full-profile total: ~{total:.0f} GPU-minutes on an H100 (see vitcourse/lab/budget.py)")
        return 0
    if args.cmd == "run":
        log = run_experiment(args.name, args.profile, args.seed, device=args.device,
                             time_limit_s=args.time_limit)
        final = log["epochs"][-1] if log.get("epochs") else {}
        if os.environ.get("RANK", "0") == "0":  # under torchrun, one summary line
            print(f"{args.name} [{args.profile}] {log['status']}: test acc {final.get('test_acc')}, "
                  f"wall time {log.get('wall_time_s', 0):.1f} s")
        return 0 if log["status"] == "finished" else 1
    if args.cmd == "suite":
        if args.workers > 1:
            return _parallel_suite(args)
        summary = run_suite(args.profile, args.minutes, args.only, device=args.device)
        print(f"finished this call: {summary['finished']}")
        print(f"still pending: {summary['pending'] or 'none'}")
        if summary["deferred"]:
            print(f"deferred to a job of their own (need a whole GPU job; start the next call with "
                  f"--minutes 9.5): {summary['deferred']}")
        if summary["stale"]:
            print(f"stale (trained with an older spec; move the run folders aside to rerun): {summary['stale']}")
        if summary["diverged"]:
            print(f"diverged (logged, not retried; delete the run's folder to retry): {summary['diverged']}")
        return 0
    if args.cmd == "bench":
        print(format_report(run_bench(args.device, args.batch, args.steps, args.compile)))
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
        print(f"worker {len(children) + 1}: {' '.join(share)}", flush=True)
        children.append(subprocess.Popen(cmd))
    codes = [child.wait() for child in children]
    return max(codes, default=0)

