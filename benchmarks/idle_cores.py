"""Idle core time of a local Snakemake run, and how long each rule's jobs waited once their inputs were ready,
read from the run's own log (.snakemake/log/*.snakemake.log: when each job started and finished, its threads,
its input and output files).

    python benchmarks/idle_cores.py .snakemake/log/<run>.snakemake.log [--cores 2]

Idle core time = cores x makespan - the sum of threads x duration over jobs. A job's wait = its start - the
latest finish among the jobs that made its inputs in this run (inputs from earlier runs count as ready at the
start). A core idle while a gating job waits is the cost this script measures; the tail of a run, where
fewer jobs remain than cores, is idle by necessity and is reported apart.
"""

import argparse
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")


@dataclass
class Job:
    rule: str
    threads: int = 1
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    start: float = 0.0
    end: float | None = None


def parse(path: str) -> tuple[dict[int, Job], int | None]:
    """Jobs by id with start, end, threads, inputs and outputs; and the run's --cores where the log says."""
    jobs, pending, stamp, cores = {}, None, 0.0, None
    for line in open(path):
        line = line.rstrip("\n")
        if m := STAMP.match(line):
            stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y").timestamp()
        elif m := re.match(r"^(?:local)?rule (\w+):$", line):
            pending = Job(m.group(1), start=stamp)
        elif pending and (m := re.match(r"^    (input|output): (.*)$", line)):
            (pending.inputs if m.group(1) == "input" else pending.outputs).extend(m.group(2).split(", "))
        elif pending and (m := re.match(r"^    threads: (\d+)$", line)):
            pending.threads = int(m.group(1))
        elif pending and (m := re.match(r"^    jobid: (\d+)$", line)):
            jobs[int(m.group(1))] = pending
        elif m := re.match(r"^Finished jobid: (\d+)", line):
            jobs[int(m.group(1))].end = stamp
        elif m := re.match(r"^Provided cores: (\d+)", line):
            cores = int(m.group(1))
    return {i: j for i, j in jobs.items() if j.end is not None and j.rule != "all"}, cores


def report(jobs: dict[int, Job], cores: int) -> None:
    t0, t1 = min(j.start for j in jobs.values()), max(j.end for j in jobs.values())
    busy = sum(j.threads * (j.end - j.start) for j in jobs.values())
    # Idle by necessity: from the moment fewer jobs are left to start than there are cores.
    starts = sorted(j.start for j in jobs.values())
    tail_from = starts[-1] if len(starts) else t1
    tail_busy = sum(j.threads * (j.end - max(j.start, tail_from)) for j in jobs.values() if j.end > tail_from)
    made_by = {out: j for j in jobs.values() for out in j.outputs}
    waits = defaultdict(list)
    for j in jobs.values():
        ready = max([made_by[f].end for f in j.inputs if f in made_by], default=t0)
        waits[j.rule].append(max(0.0, j.start - ready))
    span = t1 - t0
    print(f"{len(jobs)} jobs, {cores} cores, makespan {span / 60:.1f} min, busy {busy / 3600:.2f} core-h")
    print(f"idle core time {(cores * span - busy) / 3600:.2f} core-h ({1 - busy / (cores * span):.1%} of "
          f"{cores} x makespan); of it in the tail after the last start "
          f"{(cores * (t1 - tail_from) - tail_busy) / 3600:.2f} core-h")  # fmt: skip
    print(f"{'rule':20} {'jobs':>5} {'threads':>7} {'wait after inputs ready: total / max':>38}")
    for rule, w in sorted(waits.items(), key=lambda kv: -sum(kv[1])):
        threads = {j.threads for j in jobs.values() if j.rule == rule}
        print(f"{rule:20} {len(w):5d} {','.join(map(str, sorted(threads))):>7} {sum(w) / 60:28.1f} min / "
              f"{max(w) / 60:5.1f} min")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("log", nargs="+", help="Snakemake log(s) of one run (resumed runs: give each)")
    parser.add_argument("--cores", type=int, help="the run's --cores (default: as the log says)")
    args = parser.parse_args()
    jobs, cores = {}, args.cores
    for n, path in enumerate(args.log):
        parsed, said = parse(path)
        jobs |= {(n, i): j for i, j in parsed.items()}
        cores = cores or said
    if not cores:
        raise SystemExit("the log does not say how many cores the run had: pass --cores")
    report(jobs, cores)


if __name__ == "__main__":
    main()
