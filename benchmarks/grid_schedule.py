"""What a grid costs, from its benchmark files: job time per rule, the job time a SLURM profile spreads over a
cluster, the critical path (the wall time with a node per job), and the makespan of a `--cores C` run.

    python benchmarks/grid_schedule.py [--workdir DIR] [--cores 2] [--time cpu] [--assume probe=420] [--table] \
        [-- snakemake args, e.g. --configfile config/v2.yaml]

The DAG is Snakemake's own (a forced dry run of `all` in DIR, with the same --cores, so threads and priorities
are those of the run); each job's time is its benchmark file's (`cpu_time / threads`, or wall `s`). A job not
run yet takes the median of the same job in the other seeds, else of its rule, else `--assume`, and is
counted as estimated (every rule writes a benchmark file, so estimated = not run yet). The makespan replays
Snakemake's local scheduling: whenever a job ends, the ready jobs start in order of priority (then of the dry
run) while their threads fit. A grid run in pieces over several
sessions, beside other work, has no wall time of its own; this gives the one it would have had, and what is
left of it: the jobs not run yet, replayed with the others done. Its pieces' own wall time comes from
Snakemake's run logs in DIR/.snakemake/log (first to last timestamp of each run that started a job).
"""

import argparse
import heapq
import re
import statistics
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path


@dataclass
class Job:
    rule: str
    order: int
    threads: int = 1
    priority: int = 0
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    benchmark: str | None = None
    wildcards: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    estimated: bool = False


def plan(workdir: Path, cores: int, extra: list[str]) -> list[Job]:
    """Every job of `all` as the dry run lists it, with threads, priority, files and benchmark path."""
    cmd = ["snakemake", "all", "-n", "--forceall", "--nolock", "--cores", str(cores), *extra]
    run = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{run.stderr[-3000:]}")
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", run.stdout + run.stderr):
        if not (m := re.match(r"(?:local)?rule (\w+):", block)) or m.group(1) == "all":
            continue
        job = Job(m.group(1), len(jobs))
        for key, value in re.findall(r"^    (\w+): (.*)$", block, re.M):
            if key in ("input", "output"):
                (job.inputs if key == "input" else job.outputs).extend(value.split(", "))
            elif key in ("threads", "priority"):
                setattr(job, key, int(value))
            elif key == "benchmark":
                job.benchmark = value
            elif key == "wildcards":
                job.wildcards = dict(w.split("=", 1) for w in value.split(", "))
        jobs.append(job)
    return jobs


def measured(workdir: Path, job: Job, time: str) -> float | None:
    """The job's time from its benchmark file (mean over repeats), or None if it has none."""
    if not job.benchmark or not (path := workdir / job.benchmark).exists():
        return None
    lines = path.read_text().splitlines()
    head, rows = lines[0].split("\t"), [line.split("\t") for line in lines[1:] if line]
    if time == "cpu":
        return statistics.mean(float(r[head.index("cpu_time")]) for r in rows) / job.threads
    return statistics.mean(float(r[head.index("s")]) for r in rows)


def timed(workdir: Path, jobs: list[Job], time: str, assume: dict[str, float]) -> None:
    """Set each job's seconds: measured, else the median of its twins in other seeds, of its rule, or assumed."""
    known = {j.order: t for j in jobs if (t := measured(workdir, j, time)) is not None}
    twins, per_rule = defaultdict(list), defaultdict(list)
    for j in jobs:
        if j.order in known:
            twins[_twin(j)].append(known[j.order])
            per_rule[j.rule].append(known[j.order])
    missing = set()
    for j in jobs:
        if j.order in known:
            j.seconds = known[j.order]
            continue
        j.estimated = True
        if twins[_twin(j)]:
            j.seconds = statistics.median(twins[_twin(j)])
        elif per_rule[j.rule]:
            j.seconds = statistics.median(per_rule[j.rule])
        elif j.rule in assume:
            j.seconds = assume[j.rule]
        elif j.benchmark:
            missing.add(j.rule)
    if missing:
        raise SystemExit(f"no benchmark file for any job of {sorted(missing)}: pass --assume RULE=SECONDS")


def _twin(job: Job) -> tuple:
    return job.rule, tuple(sorted((k, v) for k, v in job.wildcards.items() if k != "seed"))


def makers(jobs: list[Job]) -> dict[int, list[int]]:
    """For each job, the jobs that make its inputs."""
    made_by = {out: j.order for j in jobs for out in j.outputs}
    return {j.order: sorted({made_by[f] for f in j.inputs if f in made_by}) for j in jobs}


def critical_path(jobs: list[Job], needs: dict[int, list[int]]) -> tuple[float, list[Job]]:
    """The longest chain of job times: no number of nodes finishes the grid sooner."""
    finish, before = {}, {}
    for j in _topological(jobs, needs):
        prev = max(needs[j.order], key=lambda i: finish[i], default=None)
        finish[j.order] = j.seconds + (finish[prev] if prev is not None else 0.0)
        before[j.order] = prev
    end = max(finish, key=finish.get)
    chain, at = [], end
    while at is not None:
        chain.append(jobs[at])
        at = before[at]
    return finish[end], chain[::-1]


def _topological(jobs: list[Job], needs: dict[int, list[int]]) -> list[Job]:
    done, out = set(), []
    pending = list(jobs)
    while pending:
        ready = [j for j in pending if all(i in done for i in needs[j.order])]
        if not ready:
            raise SystemExit("the dry run's jobs form a cycle")
        out += ready
        done |= {j.order for j in ready}
        pending = [j for j in pending if j.order not in done]
    return out


_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$", re.M)


def pieces(workdir: Path) -> list[tuple[datetime, datetime, int]]:
    """Each run Snakemake logged in DIR that started a job: its first and last timestamp, and jobs finished.

    A grid run in pieces over several sessions has these as its measured wall time: the time between pieces
    and a killed piece's unfinished job after its last timestamp are not in it; work beside a piece is."""
    runs = []
    for log in sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log")):
        text = log.read_text(errors="replace")
        stamps = [datetime.strptime(" ".join(s.split()), "%a %b %d %H:%M:%S %Y") for s in _STAMP.findall(text)]
        if stamps:
            runs.append((stamps[0], stamps[-1], len(re.findall(r"^Finished job", text, re.M))))
    return runs


def makespan(jobs: list[Job], needs: dict[int, list[int]], cores: int) -> float:
    """A --cores run replayed: at each job's end, the ready jobs start by priority while their threads fit."""
    waiting = {j.order: len(needs[j.order]) for j in jobs}
    users = defaultdict(list)
    for j in jobs:
        for i in needs[j.order]:
            users[i].append(j.order)
    ready = [(-j.priority, j.order) for j in jobs if not waiting[j.order]]
    heapq.heapify(ready)
    running, now, free = [], 0.0, cores
    while ready or running:
        skipped = []
        while ready:
            key = heapq.heappop(ready)
            job = jobs[key[1]]
            if min(job.threads, cores) <= free:
                free -= min(job.threads, cores)
                heapq.heappush(running, (now + job.seconds, job.order))
            else:
                skipped.append(key)
        for key in skipped:
            heapq.heappush(ready, key)
        now, order = heapq.heappop(running)
        free += min(jobs[order].threads, cores)
        for user in users[order]:
            waiting[user] -= 1
            if not waiting[user]:
                heapq.heappush(ready, (-jobs[user].priority, user))
    return now


def still_to_run(jobs: list[Job], needs: dict[int, list[int]], cores: int) -> tuple[list[Job], float]:
    """The jobs not run yet (estimated) and the --cores makespan of them alone, every measured job done."""
    rest = [j if j.estimated else replace(j, seconds=0.0) for j in jobs]
    return [j for j in jobs if j.estimated], makespan(rest, needs, cores)


SAMPLE, DENSE = 30.0, 15.0  # Snakemake samples a job's CPU time every 0.5 s for 30 samples, then every 30 s


def sampled_late(jobs: list[Job]) -> list[Job]:
    """The jobs with what `cpu_time` can miss added back. It is the last sample's (Snakemake's benchmark.py;
    snakemake#851), so up to SAMPLE s of each job longer than DENSE (per thread) ended unsampled: replaying
    these gives the upper end of a CPU-time figure."""
    return [replace(j, seconds=j.seconds + min(SAMPLE, max(0.0, j.seconds - DENSE))) for j in jobs]


def core_seconds(jobs: list[Job], cores: int) -> float:
    """The jobs' time times their threads (at most `cores`): what they hold of a machine or cluster."""
    return sum(j.seconds * min(j.threads, cores) for j in jobs)


def report(jobs: list[Job], cores: int, time: str) -> None:
    needs = makers(jobs)
    by_rule = defaultdict(list)
    for j in jobs:
        by_rule[j.rule].append(j)

    print(f"{'rule':20} {'jobs':>5} {'estimated':>9} {'job time, h':>11} {'per job, s':>18}")
    for rule, js in sorted(by_rule.items(), key=lambda kv: -core_seconds(kv[1], cores)):
        secs = [j.seconds for j in js]
        print(f"{rule:20} {len(js):5d} {sum(j.estimated for j in js):9d} "
              f"{core_seconds(js, cores) / 3600:11.2f} {min(secs):8.0f} - {max(secs):7.0f}")  # fmt: skip
    work = core_seconds(jobs, cores)
    path, chain = critical_path(jobs, needs)
    span = makespan(jobs, needs, cores)
    print(f"\n{len(jobs)} jobs ({sum(j.estimated for j in jobs)} estimated), times from benchmark files' "
          f"{'cpu_time / threads' if time == 'cpu' else 'wall s'}")  # fmt: skip
    print(f"job time (what a SLURM profile spreads over a cluster): {work / 3600:.2f} core-h")
    if time == "cpu":
        late = sampled_late(jobs)
        print(f"  with each job's unsampled end (up to {SAMPLE:.0f} s): "
              f"up to {core_seconds(late, cores) / 3600:.2f} core-h, "
              f"--cores {cores} makespan up to {makespan(late, needs, cores) / 3600:.2f} h")  # fmt: skip
    print(f"critical path (a node per job): {path / 3600:.2f} h: " + " -> ".join(j.rule for j in chain))
    print(f"--cores {cores}: makespan {span / 3600:.2f} h (bounds: job time / cores {work / cores / 3600:.2f} h, "
          f"critical path {path / 3600:.2f} h); idle {1 - work / (cores * span):.1%} of the cores")  # fmt: skip
    left, left_span = still_to_run(jobs, needs, cores)
    print(f"still to run: {len(left)} jobs, {core_seconds(left, cores) / 3600:.2f} core-h; --cores {cores}: "
          f"{left_span / 3600:.2f} h")  # fmt: skip


def table(cpu: list[Job], wall: list[Job], cores: int, fold: float = 0.0) -> str:
    """A Markdown table per rule: CPU and wall seconds per job, and their sums over the rule's jobs (core-h).

    `cpu` and `wall` are the same jobs timed from `cpu_time / threads` and from `s`; a job's sum counts its
    threads (at most `cores`), so the CPU column adds up to the job time a SLURM profile spreads over a cluster.
    Rules under `fold` core-h of CPU share one row, so the table shows where the time goes."""
    head = "| rule | jobs | per job, CPU s / threads | job time, core-h | per job, wall s | wall x threads, core-h |"
    rows = [head, "|---|--:|--:|--:|--:|--:|"]
    rules = defaultdict(lambda: ([], []))
    for c, w in zip(cpu, wall, strict=True):
        rules[c.rule][0].append(c)
        rules[c.rule][1].append(w)

    def hours(js: list[Job]) -> float:
        return core_seconds(js, cores) / 3600

    def span(js: list[Job]) -> str:
        secs = [j.seconds for j in js]
        return f"{min(secs):,.0f}" if round(min(secs)) == round(max(secs)) else f"{min(secs):,.0f}-{max(secs):,.0f}"

    small = sorted(rule for rule, (c, _) in rules.items() if hours(c) < fold)
    small = small if len(small) > 1 else []
    big = sorted((rule for rule in rules if rule not in small), key=lambda rule: -hours(rules[rule][0]))
    order = [(f"`{rule}`", rules[rule]) for rule in big]
    if small:
        name = f"{len(small)} others: " + ", ".join(f"`{r}`" for r in small)
        order.append((name, tuple(sum((rules[r][i] for r in small), []) for i in (0, 1))))
    for name, (c, w) in order:
        late = sum(j.estimated for j in c)
        jobs = f"{len(c)}" + (f" ({late} not run)" if late else "")
        rows.append(f"| {name} | {jobs} | {span(c)} | {hours(c):.2f} | {span(w)} | {hours(w):.2f} |")
    rows.append(f"| all | {len(cpu)} | | **{hours(cpu):.2f}** | | **{hours(wall):.2f}** |")
    return "\n".join(rows)


def report_pieces(runs: list[tuple[datetime, datetime, int]]) -> None:
    if not runs:
        return
    wall = sum((end - start).total_seconds() for start, end, _ in runs)
    print(f"run so far in {len(runs)} pieces (.snakemake/log): {wall / 3600:.2f} h of wall time, "
          f"{sum(n for *_, n in runs)} jobs finished")  # fmt: skip
    for start, end, n in runs:
        hours = (end - start).total_seconds() / 3600
        print(f"  {start:%Y-%m-%d %H:%M:%S} - {end:%H:%M:%S}  {hours:5.2f} h  {n:4d} jobs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("."))
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--time", choices=("cpu", "wall"), default="cpu",
                        help="cpu: cpu_time / threads (robust to other work beside the run); wall: s")  # fmt: skip
    parser.add_argument("--assume", action="append", default=[], metavar="RULE=SECONDS",
                        help="time of a rule's jobs none of which has run yet")  # fmt: skip
    parser.add_argument(
        "--table",
        action="store_true",
        help="also print a Markdown table, CPU and wall time per rule (rules under 0.05 core-h in one row)",
    )
    parser.add_argument("snakemake_args", nargs="*", help="after --: passed to the dry run")
    args = parser.parse_args()
    assume = {rule: float(s) for rule, s in (a.split("=", 1) for a in args.assume)}
    jobs = plan(args.workdir, args.cores, args.snakemake_args)
    timed(args.workdir, jobs, args.time, assume)
    report(jobs, args.cores, args.time)
    report_pieces(pieces(args.workdir))
    if args.table:
        other = [replace(j) for j in jobs]
        timed(args.workdir, other, "wall" if args.time == "cpu" else "cpu", assume)
        cpu, wall = (jobs, other) if args.time == "cpu" else (other, jobs)
        print("\n" + table(cpu, wall, args.cores, fold=0.05))


if __name__ == "__main__":
    main()
