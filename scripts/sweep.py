"""Runs a grid of train.py runs (Table 1 by default) one after another, or emits it as a SLURM array or wandb sweep.

Examples (see docs/sweeps.md):
  python scripts/sweep.py --root runs/table1 --preset paper --dry-run
  python scripts/sweep.py --root runs/table1 --preset paper                    # local, sequential, resumable
  python scripts/sweep.py --root /scratch/t1 --emit slurm --partition gpu --time 48:00:00   # then: sbatch <.slurm>
  python scripts/sweep.py --root /scratch/t1 --emit slurm --nodes 2 --gpus 4 --submit   # 2-node runs, submitted
  python scripts/sweep.py --root /scratch/t1 --emit wandb --wandb-project glorot-lra   # then: wandb sweep <yaml>
  python scripts/sweep.py --root runs/ln --tasks imdb --layer-norm only --axis model.init=glorot,rescaled_glorot
Internal entry points (used by the emitted files):
  python scripts/sweep.py run-index --manifest M --index I [--launcher srun]   # the SLURM array task I
  python scripts/sweep.py wandb-run --manifest M --config=... --config.k=v ...   # a wandb agent's run
"""

import argparse
import os
import shlex
import sys

import yaml

from tools import sweep


def _grid_parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog="\n".join(__doc__.splitlines()[1:]))
  p.add_argument("--root", required=True, help="root of the run workdirs: <root>/<task>/<row>/seed<k>")
  p.add_argument("--emit", choices=sweep.EMITTERS, default="local",
                 help="local: run now, one after another; slurm: write a job-array script; wandb: write sweep YAMLs")
  p.add_argument("--dry-run", action="store_true", help="print the run list and exact commands; write and run nothing")
  g = p.add_argument_group("grid")
  g.add_argument("--tasks", default=",".join(sweep.TABLE1_TASKS), help="comma-separated tasks (default: %(default)s)")
  g.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default: %(default)s)")
  g.add_argument("--preset", default="paper", help="config preset, configs/<task>.py:<preset>; '' for none")
  g.add_argument("--layer-norm", choices=sweep.LAYER_NORM_MODES, default="off",
                 help="the rebuttal's LayerNorm-in-the-recurrence rows: off, add (besides Table 1), only")
  g.add_argument("--axis", action="append", default=[], metavar="KEY=V1,V2",
                 help="a grid axis (repeatable). model.recurrence / model.init narrow the Table 1 rows (both: "
                      "their full product); task, seed, model.recurrent_layer_norm replace the built-in axes; any "
                      "other config key adds an axis, named in the workdir")
  g.add_argument("--override", action="append", default=[], metavar="[TASK:]KEY=VALUE",
                 help="a fixed --config.KEY=VALUE for every run, or with TASK: for that task's runs (repeatable), "
                      "e.g. train.max_steps=100, imdb:model.d_hidden=256")
  g.add_argument("--program", default=shlex.join(sweep.DEFAULT_PROGRAM),
                 help="the command prefix before train.py's arguments (default: %(default)r)")
  g.add_argument("--repo", default=sweep.REPO_DIR, help="the directory runs start in (default: this checkout)")
  loc = p.add_argument_group("local runner")
  loc.add_argument("--stream", action="store_true", help="show train.py's output (default: <workdir>/sweep.log)")
  loc.add_argument("--stop-on-error", action="store_true", help="stop at the first run that fails")
  sl = p.add_argument_group("slurm")
  sl.add_argument("--out", default=None, help="where emitted files go (default: --root)")
  sl.add_argument("--partition", default=None)
  sl.add_argument("--gpus", type=int, default=1, help="GPUs per node of a run (default: %(default)s)")
  sl.add_argument("--nodes", type=int, default=1,
                  help="nodes per run; above 1 a run is one JAX job over them, launched by srun with "
                       "--config.distributed=True (default: %(default)s)")
  sl.add_argument("--ntasks-per-node", type=int, default=1,
                  help="processes per node of a run (e.g. one per GPU); above 1 as --nodes (default: %(default)s)")
  sl.add_argument("--submit", action="store_true", help="sbatch the script and print the job id")
  sl.add_argument("--time", default="24:00:00", help="time limit per run (default: %(default)s)")
  sl.add_argument("--mem", default="32G", help="memory per run (default: %(default)s)")
  sl.add_argument("--cpus", type=int, default=8, help="CPU cores per run (default: %(default)s)")
  sl.add_argument("--max-parallel", type=int, default=None, help="at most this many runs at once")
  sl.add_argument("--sbatch", action="append", default=[], metavar="OPTION",
                  help="an extra #SBATCH option (repeatable), e.g. --sbatch=--account=abc")
  sl.add_argument("--signal-s", type=int, default=120,
                  help="seconds before the time limit at which SLURM asks a run to checkpoint and requeue; at "
                       "least 60, SLURM's resolution, and 60 less than --time (default: %(default)s)")
  sl.add_argument("--python", default="python", help="python on the compute nodes / wandb agents")
  wb = p.add_argument_group("wandb")
  wb.add_argument("--wandb-project", default=None)
  wb.add_argument("--wandb-entity", default=None)
  return p


def main_grid(argv: list[str]) -> int:
  args = _grid_parser().parse_args(argv)
  multi_process = args.emit == "slurm" and args.nodes * args.ntasks_per_node > 1
  if multi_process:  # one JAX job over the run's processes; not part of the workdir name
    args.override = [*args.override, "distributed=True"]
  try:
    runs = sweep.grid_from_flags(root=args.root, tasks=args.tasks, seeds=args.seeds, preset=args.preset,
                                 layer_norm=args.layer_norm, axes=args.axis, overrides=args.override)
    if args.emit == "slurm":
      sweep.check_slurm_options(signal_s=args.signal_s, time_limit=args.time, nodes=args.nodes,
                                ntasks_per_node=args.ntasks_per_node)
  except ValueError as e:
    print(f"sweep.py: error: {e}", file=sys.stderr)
    return 2
  program = shlex.split(args.program)
  prov = sweep.provenance([sys.executable, *sys.argv])
  header = f"# sweep of {len(runs)} runs; generated by: {prov['command']}\n# commit {prov['commit']}"
  if args.dry_run:
    print(header)
    print(sweep.describe(runs, program=program))
    return 0
  root = os.path.abspath(args.root)
  out = os.path.abspath(args.out or root)
  os.makedirs(out, exist_ok=True)
  manifest_path = os.path.join(out, f"sweep_{args.emit}.json")
  sweep.write_manifest(manifest_path, runs, program=program, repo_dir=os.path.abspath(args.repo), prov=prov)
  if args.emit == "slurm":
    return _emit_slurm(args, runs, out=out, manifest_path=manifest_path, program=program, prov=prov)
  if args.emit == "wandb":
    configs = sweep.wandb_sweep_configs(runs, manifest_path=manifest_path, project=args.wandb_project,
                                        entity=args.wandb_entity, python=args.python, prov=prov)
    for i, config in enumerate(configs):
      path = os.path.join(out, f"wandb_sweep_{i}.yaml")
      with open(path, "w") as f:
        f.write(f"# wandb grid sweep {i + 1}/{len(configs)}: {len(sweep.grid_points(config))} runs\n{header}\n")
        f.write(f"# run from {os.path.abspath(args.repo)}: wandb sweep {path} && wandb agent <sweep id>\n")
        yaml.safe_dump(config, f, sort_keys=False)
      print(f"wrote {path} ({len(sweep.grid_points(config))} runs)")
    return 0
  print(header)
  journal = os.path.join(root, "sweep_journal.jsonl")
  counts = sweep.run_sequentially(runs, program=program, repo_dir=os.path.abspath(args.repo), stream=args.stream,
                                  stop_on_error=args.stop_on_error, journal_path=journal)
  print(f"done: {counts['ran']} ran, {counts['skipped']} skipped (done, or running elsewhere), "
        f"{counts['failed']} failed"
        + (f", {counts['stopped']} stopped by a signal" if counts["stopped"] else "") + f"; journal {journal}")
  if counts["stopped"]:
    return sweep.PREEMPTED_EXIT_CODE
  return 1 if counts["failed"] else 0


def _emit_slurm(args: argparse.Namespace, runs: list[sweep.Run], *, out: str, manifest_path: str,
                program: list[str], prov: dict) -> int:
  """Writes sweep.slurm and runs.txt, makes the log folder (SLURM opens the logs before the script runs), and
  with --submit submits the script."""
  sweep.write_run_list(os.path.join(out, "runs.txt"), runs, program=program, prov=prov)
  log_dir = os.path.join(out, "slurm_logs")
  os.makedirs(log_dir, exist_ok=True)
  script = sweep.slurm_script(
      manifest_path=manifest_path, num_runs=len(runs), repo_dir=os.path.abspath(args.repo), python=args.python,
      partition=args.partition, gpus=args.gpus, time_limit=args.time, mem=args.mem, cpus=args.cpus,
      max_parallel=args.max_parallel, log_dir=log_dir, extra_sbatch=args.sbatch, signal_s=args.signal_s,
      nodes=args.nodes, ntasks_per_node=args.ntasks_per_node, prov=prov)
  path = os.path.join(out, "sweep.slurm")
  with open(path, "w") as f:
    f.write(script)
  print(f"wrote {path} ({len(runs)} array tasks), {manifest_path} and {os.path.join(out, 'runs.txt')}")
  if not args.submit:
    print(f"submit with: sbatch {shlex.quote(path)}")
    return 0
  try:
    job_id = sweep.submit(path)
  except RuntimeError as e:
    print(f"sweep.py: error: {e}", file=sys.stderr)
    return 1
  print(f"submitted job {job_id}: logs {os.path.join(log_dir, job_id)}_<index>.out")
  return 0


def main_run_index(argv: list[str]) -> int:
  p = argparse.ArgumentParser(prog="sweep.py run-index", description="Runs run INDEX of a sweep manifest.")
  p.add_argument("--manifest", required=True)
  p.add_argument("--index", type=int, required=True)
  p.add_argument("--launcher", default="",
                 help="a command prefix for train.py, e.g. 'srun --wait=120' for a multi-process run")
  args = p.parse_args(argv)
  runs, manifest = sweep.load_manifest(args.manifest)
  if not 0 <= args.index < len(runs):
    print(f"sweep.py: error: index {args.index} is outside 0..{len(runs) - 1} of {args.manifest}", file=sys.stderr)
    return 2
  restarts = os.environ.get("SLURM_RESTART_COUNT")  # reruns of this task, all appended to one log
  if restarts and restarts != "0":
    print(f"SLURM restart {restarts} of this task")
  return sweep.run_entry(runs[args.index], manifest, launcher=shlex.split(args.launcher))


def main_wandb_run(argv: list[str]) -> int:
  p = argparse.ArgumentParser(prog="sweep.py wandb-run", description="Runs the manifest run that wandb's args name.")
  p.add_argument("--manifest", required=True)
  args, rest = p.parse_known_args(argv)
  runs, manifest = sweep.load_manifest(args.manifest)
  try:
    run = sweep.run_from_wandb_args(runs, rest)
  except ValueError as e:
    print(f"sweep.py: error: {e}", file=sys.stderr)
    return 2
  return sweep.run_entry(run, manifest)


def main(argv: list[str] | None = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  if argv and argv[0] == "run-index":
    return main_run_index(argv[1:])
  if argv and argv[0] == "wandb-run":
    return main_wandb_run(argv[1:])
  return main_grid(argv)


if __name__ == "__main__":
  sys.exit(main())
