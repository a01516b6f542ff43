"""The jobs that gate a branch start first and fit beside a running 1-thread job (in an earlier
--cores 2 run a 2-thread fit_m waited behind a stream of SAE and probe jobs, a core idle while the equivariant
branch waited for M)."""

import re
from dataclasses import replace

import pytest
from conftest import copy_workflow, snakemake

GATING = ("generate_dataset", "train_base", "dump_activations", "fit_m", "train_sae")


def planned(workdir, cores: int) -> dict[str, tuple[set[int], set[int]]]:
    """rule -> (threads, priorities) of its jobs in a dry run of the paper config at --cores."""
    result = snakemake(workdir, "-n", "--cores", str(cores), "all", "--config", "run=schedule")
    assert result.returncode == 0, result.stderr[-3000:]
    plan = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", result.stdout + result.stderr):
        if not (m := re.match(r"(?:local)?rule (\w+):", block)):
            continue
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        priority = re.search(r"^\s+priority: (\d+)$", block, re.M)
        entry = plan.setdefault(m.group(1), (set(), set()))
        entry[0].add(int(threads.group(1)) if threads else 1)
        entry[1].add(int(priority.group(1)) if priority else 0)
    return plan


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("schedule"))


@pytest.mark.slow
def test_gating_jobs_start_before_the_jobs_that_end_a_branch(workdir):
    plan = planned(workdir, 2)
    priority = {rule: max(p) for rule, (_, p) in plan.items()}
    leaves = ("probe", "probe_base", "sae_metrics", "atlas", "m_r2", "base_heldout")
    assert min(priority[rule] for rule in GATING) > max(priority[rule] for rule in leaves)
    # Each stage ranks above what waits on it.
    assert priority["train_base"] > priority["fit_m"] > priority["train_sae"] > priority["probe"]


@pytest.mark.slow
def test_a_gating_job_leaves_a_core_free_on_a_small_run_and_keeps_its_threads_on_a_large_one(workdir):
    small, large = planned(workdir, 2), planned(workdir, 8)
    for rule in ("train_base", "dump_activations", "fit_m", "base_heldout"):
        assert small[rule][0] == {1}, rule
        assert large[rule][0] == {2}, rule  # config/config.yaml's threads
    assert planned(workdir, 1)["fit_m"][0] == {1}


def grid_schedule():
    """benchmarks/grid_schedule.py, which replays a run's schedule from its benchmark files."""
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("grid_schedule", ROOT / "benchmarks" / "grid_schedule.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_replayed_schedule_starts_by_priority_and_waits_for_threads_to_fit():
    gs = grid_schedule()
    # x and y (4 s each) were listed first; a (2 s) gates c (10 s), and both rank above them.
    jobs = [gs.Job("x", 0, seconds=4), gs.Job("y", 1, seconds=4), gs.Job("a", 2, outputs=["a"], seconds=2, priority=1),
            gs.Job("c", 3, inputs=["a"], seconds=10, priority=1)]  # fmt: skip
    needs = gs.makers(jobs)
    assert needs == {0: [], 1: [], 2: [], 3: [2]}
    assert gs.makespan(jobs, needs, 2) == 12  # a and x at 0, c at 2, y at 4; in listed order c would end at 16
    assert gs.makespan(jobs, needs, 1) == 20
    length, chain = gs.critical_path(jobs, needs)
    assert (length, [j.rule for j in chain]) == (12, ["a", "c"])
    # a 2-thread job waits until both cores are free: e (6 s) holds one until 6; on 1 core its threads fit as 1
    jobs = [gs.Job("e", 0, seconds=6), gs.Job("f", 1, seconds=1), gs.Job("t", 2, threads=2, seconds=3)]
    assert gs.makespan(jobs, gs.makers(jobs), 2) == 9
    assert gs.makespan(jobs, gs.makers(jobs), 1) == 10


def test_what_is_left_of_a_grid_replays_the_jobs_not_run_yet_with_the_others_done():
    gs = grid_schedule()
    # a (measured, 5 s) gates b (estimated, 4 s); c (estimated, 3 s) stands alone; d (measured) is done too
    jobs = [gs.Job("a", 0, outputs=["a"], seconds=5), gs.Job("b", 1, inputs=["a"], seconds=4, estimated=True),
            gs.Job("c", 2, seconds=3, estimated=True), gs.Job("d", 3, seconds=7)]  # fmt: skip
    needs = gs.makers(jobs)
    left, span = gs.still_to_run(jobs, needs, 2)
    assert [j.rule for j in left] == ["b", "c"]
    assert span == 4  # b and c side by side from now; a's 5 s are behind us
    assert gs.still_to_run(jobs, needs, 1)[1] == 7
    assert gs.makespan(jobs, needs, 2) == 10  # the whole grid, unchanged: the measured jobs keep their times


@pytest.mark.slow
def test_the_replay_reads_the_workflows_own_dag_and_estimates_a_job_not_run_from_its_twins(workdir, tmp_path):
    gs = grid_schedule()
    jobs = gs.plan(workdir, 2, ["--config", "run=schedule"])
    plan = planned(workdir, 2)
    assert {j.rule for j in jobs} == set(plan) - {"all"}
    assert all(j.threads in plan[j.rule][0] and j.priority in plan[j.rule][1] for j in jobs)
    sae = [j for j in jobs if j.rule == "train_sae"]
    assert {j.wildcards["seed"] for j in sae} == {"0", "1", "2", "3", "4"} and all(j.benchmark for j in sae)  # 3, 4: K = 16
    # one seed's SAE measured: its twins in the other seeds take its time; a rule never run takes --assume.
    first = sae[0]
    (workdir / first.benchmark).parent.mkdir(parents=True, exist_ok=True)
    (workdir / first.benchmark).write_text("s\th:m:s\tcpu_time\n120.0\t0:02:00\t100.0\n")
    twin = next(j for j in sae if j is not first and gs._twin(j) == gs._twin(first))
    gs.timed(workdir, jobs, "cpu", {rule: 1.0 for rule in plan})
    assert (first.seconds, first.estimated) == (100.0, False)
    assert (twin.seconds, twin.estimated) == (100.0, True)
    assert {j.seconds for j in jobs if j.rule == "probe"} == {1.0}
    with pytest.raises(SystemExit, match="probe"):
        gs.timed(workdir, jobs, "wall", {})


def test_a_run_in_pieces_has_the_wall_time_of_its_logged_runs_that_started_jobs(tmp_path):
    gs = grid_schedule()
    logs = tmp_path / ".snakemake" / "log"
    logs.mkdir(parents=True)
    job = "[{}]\nrule train_sae:\n    jobid: 1\n[{}]\nFinished jobid: 1 (Rule: train_sae)\n"
    (logs / "2026-11-23T013149.1.snakemake.log").write_text(
        "Building DAG of jobs...\n" + job.format("Mon Nov  2 23:30:00 2026", "Mon Nov  2 23:59:30 2026")
        + job.format("Mon Nov  2 23:59:30 2026", "Tue Nov  3 01:00:00 2026")
    )  # fmt: skip
    (logs / "2026-11-23T041745.2.snakemake.log").write_text("Unlocked working directory.\n")
    (logs / "2026-11-23T041812.3.snakemake.log").write_text(
        job.format("Tue Nov  3 04:00:00 2026", "Tue Nov  3 04:45:00 2026")
    )
    runs = gs.pieces(tmp_path)
    assert [(end - start).total_seconds() for start, end, _ in runs] == [5400.0, 2700.0]  # across midnight
    assert [n for *_, n in runs] == [2, 1]
    assert gs.pieces(tmp_path / "nowhere") == []


def test_the_table_sums_each_rules_cpu_and_wall_time_counting_threads_and_jobs_not_run():
    gs = grid_schedule()
    cpu = [gs.Job("probe", 0, seconds=1800), gs.Job("probe", 1, seconds=5400, estimated=True),
           gs.Job("fit_m", 2, threads=2, seconds=4000)]  # fmt: skip
    wall = [replace(cpu[0], seconds=2700), replace(cpu[1], seconds=5400), replace(cpu[2], seconds=4500)]
    rows = gs.table(cpu, wall, cores=2).splitlines()
    assert rows[2:] == [
        "| `fit_m` | 1 | 4,000 | 2.22 | 4,500 | 2.50 |",  # 2 threads: twice its seconds, the larger rule first
        "| `probe` | 2 (1 not run) | 1,800-5,400 | 2.00 | 2,700-5,400 | 2.25 |",
        "| all | 3 | | **4.22** | | **4.75** |",
    ]
    assert gs.table(cpu, wall, cores=1).splitlines()[-1] == "| all | 3 | | **3.11** | | **3.50** |"
    # rules under `fold` core-h share one row, after the others; the total is unchanged
    small = [gs.Job("claims", 3, seconds=36), gs.Job("figure4", 4, seconds=72)]
    rows = gs.table(cpu + small, wall + small, cores=2, fold=0.05).splitlines()
    assert rows[2].startswith("| `fit_m` |") and rows[3].startswith("| `probe` |")
    assert rows[4:] == ["| 2 others: `claims`, `figure4` | 2 | 36-72 | 0.03 | 36-72 | 0.03 |",
                        "| all | 5 | | **4.25** | | **4.78** |"]  # fmt: skip


def test_cpu_time_can_miss_up_to_a_sampling_interval_at_the_end_of_each_longer_job():
    gs = grid_schedule()
    jobs = [gs.Job("a", 0, seconds=10), gs.Job("b", 1, seconds=25), gs.Job("c", 2, seconds=100),
            gs.Job("d", 3, threads=2, seconds=100)]  # fmt: skip
    # sampled every 0.5 s for the first ~15 s, then every 30 s: a 25 s job can have ended 10 s after its last sample
    assert [j.seconds for j in gs.sampled_late(jobs)] == [10, 35, 130, 130]
    assert [j.seconds for j in jobs] == [10, 25, 100, 100]  # the measured jobs are left as they are
