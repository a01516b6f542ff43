"""A real single-node Slurm cluster on localhost, with accounting, for tests (Debian's slurm-wlm packages).

Everything it writes (configs, state, spool, logs, the MariaDB data directory, the munge key and socket) lies
under one scratch directory, and it listens on free ports it picks itself, so two test sessions on one
machine do not collide and nothing under /etc or /run is touched. Daemons are started by hand (no systemd
needed) and stopped by the PIDs in their pid files.

    with SlurmCluster(tmp_dir) as cluster:          # or cluster.start() ... cluster.stop()
        run(["sbatch", "--wrap", "hostname"], env=cluster.env, timeout=30)

`python -m slurm.cluster DIR` (from tests/) brings one up, prints `export SLURM_CONF=...` and waits for Ctrl-C.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("mysqld_safe", "mariadbd", "munged", "mungekey", "slurmdbd", "slurmctld", "slurmd", "sacctmgr")
CLIENTS = ("sbatch", "squeue", "sacct", "sinfo", "scancel", "srun")


def missing_binaries() -> list[str]:
    """What of Debian's slurm-wlm, slurmdbd, munge and mariadb-server is not installed."""
    found = lambda name: shutil.which(name) or Path("/usr/sbin", name).exists()  # noqa: E731
    return [name for name in (*DAEMONS, "mysql_install_db", *CLIENTS) if not found(name)]


def run(cmd, *, timeout: float, check: bool = False, grace: float = 5, **kwargs) -> subprocess.CompletedProcess:
    """Run `cmd` in its own session, output captured as text. On timeout the whole process group gets SIGTERM,
    then SIGKILL after `grace` seconds (Snakemake waits for its jobs on SIGTERM), and TimeoutExpired is raised
    with the output so far: nothing it started outlives the bound."""
    proc = subprocess.Popen(
        [str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, **kwargs,
    )  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            stdout, stderr = proc.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
        _signal_group(proc.pid, signal.SIGKILL)  # children that outlived their leader
        raise subprocess.TimeoutExpired(proc.args, timeout, output=stdout, stderr=stderr) from None
    result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(result.args)} exited {result.returncode}:\n{stdout}\n{stderr}")
    return result


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not within {timeout:.0f} s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class SlurmCluster:
    """slurmctld + slurmd (one node, `localhost`, all CPUs) + slurmdbd on MariaDB + munged, under `root`."""

    def __init__(self, root: Path, name: str = "eqsae", partition: str = "debug"):
        self.root = Path(root).resolve()
        self.name, self.partition = name, partition
        self.conf = self.root / "etc/slurm.conf"
        self.logs = self.root / "log"
        self.pid_files: dict[str, Path] = {}  # daemon -> pid file, in start order
        self.ports = {key: free_port() for key in ("mysql", "dbd", "ctld", "slurmd")}
        self.cpus = len(os.sched_getaffinity(0))
        # Schedulable memory: a share of the machine, at least enough for small test jobs.
        total_mib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
        self.memory_mib = max(2048, total_mib // 2)
        # Clients and Snakemake: this cluster's config, and nothing of a Slurm job pytest may itself run in.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
        self.env["SLURM_CONF"] = str(self.conf)
        # snakemake-executor-plugin-slurm-jobstep runs each job's step with `srun` in an environment stripped of
        # SLURM_* variables, SLURM_CONF included: fine where the config is at /etc/slurm or served configless,
        # not for this private cluster. An `srun` first on PATH (jobs inherit PATH) puts it back.
        self.env["PATH"] = f"{self.root / 'bin'}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["EQSAE_TEST_SLURM_CONF"] = str(self.conf)

    # --- bring-up -------------------------------------------------------------------------------------

    def start(self, timeout: float = 90) -> SlurmCluster:
        """Start every daemon; returns once `sinfo` shows the node idle. Raises (after stopping what it
        started) when something does not come up within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        left = lambda: max(1.0, deadline - time.monotonic())  # noqa: E731
        for sub in ("bin", "etc", "log", "run", "state", "spool", "munge", "mysql"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        srun = self.root / "bin/srun"
        srun.write_text(f'#!/bin/sh\nexport SLURM_CONF="$EQSAE_TEST_SLURM_CONF"\nexec {shutil.which("srun")} "$@"\n')
        srun.chmod(0o755)
        try:
            self._start_mariadb(left)
            self._start_munge(left)
            self._write_configs()
            self._start_slurmdbd(left)
            self._start_slurm(left)
        except BaseException:
            self.stop()
            raise
        return self

    def _daemon(self, name: str, cmd, pid_file: Path, left, env=None) -> int:
        """Start a self-daemonising program in its own session and wait for its pid file."""
        self.pid_files[name] = pid_file
        # Output to a file, not a pipe: the daemon it leaves behind would hold a pipe open.
        out = self.logs / f"{name}.start.log"
        with open(out, "w") as log:
            proc = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=env or self.env, cwd=self.root,
                                    start_new_session=True)  # fmt: skip
        try:
            code = proc.wait(timeout=left())
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
            raise TimeoutError(f"{name}'s launcher did not return: {out.read_text()}") from None
        if code != 0:
            raise RuntimeError(f"{name} failed to start ({code}): {out.read_text()}\n{self.log_tail(name)}")

        def pid():
            try:
                value = int(pid_file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                return 0
            return value if _alive(value) else 0

        try:
            return wait_for(pid, left(), f"{name}'s pid file {pid_file}")
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n{self.log_tail(name)}") from None

    def _start_mariadb(self, left):
        datadir, sock = self.root / "mysql", self.root / "run/mysqld.sock"
        run(["mysql_install_db", "--no-defaults", f"--datadir={datadir}", "--user=root", "--skip-test-db",
             "--auth-root-authentication-method=socket"], timeout=left(), check=True, cwd=self.root)  # fmt: skip
        self._daemon(
            "mariadbd",
            ["mysqld_safe", "--no-defaults", "--nowatch", "--skip-kill-mysqld", "--skip-syslog", "--user=root",
             f"--datadir={datadir}", f"--socket={sock}", f"--port={self.ports['mysql']}",
             "--bind-address=127.0.0.1", f"--pid-file={self.root / 'run/mysqld.pid'}",
             f"--log-error={self.logs / 'mariadbd.log'}", "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
             "--performance-schema=OFF"],
            self.root / "run/mysqld.pid", left,
        )  # fmt: skip
        sql = ("CREATE DATABASE slurm_acct_db; CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm'; "
               "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';")  # fmt: skip
        mysql = ["mariadb", "--no-defaults", f"--socket={sock}", "-u", "root"]
        wait_for(lambda: run([*mysql, "-e", "SELECT 1"], timeout=left()).returncode == 0, left(), "MariaDB")
        run([*mysql, "-e", sql], timeout=left(), check=True)

    def _start_munge(self, left):
        key = self.root / "munge/munge.key"
        run(["mungekey", "--create", f"--keyfile={key}"], timeout=left(), check=True)
        key.chmod(0o600)
        self.munge_socket = self.root / "munge/munge.socket"
        self._daemon(
            "munged",
            ["munged", "--force", f"--socket={self.munge_socket}", f"--key-file={key}",
             f"--pid-file={self.root / 'run/munged.pid'}", f"--log-file={self.logs / 'munged.log'}",
             f"--seed-file={self.root / 'munge/munged.seed'}"],
            self.root / "run/munged.pid", left,
        )  # fmt: skip

    def _write_configs(self):
        # Our own munge socket: AuthInfo for daemons and clients, AccountingStoragePass for talks to slurmdbd.
        r, auth = self.root, f"AuthType=auth/munge\nAuthInfo=socket={self.munge_socket}"
        dbd = self.root / "etc/slurmdbd.conf"  # found next to $SLURM_CONF; must be private to SlurmUser
        dbd.write_text(f"""{auth}
DbdHost=localhost
DbdPort={self.ports["dbd"]}
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={self.ports["mysql"]}
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
LogFile={self.logs / "slurmdbd.log"}
PidFile={r / "run/slurmdbd.pid"}
""")
        dbd.chmod(0o600)
        self.conf.write_text(f"""ClusterName={self.name}
SlurmctldHost=localhost
SlurmctldPort={self.ports["ctld"]}
SlurmdPort={self.ports["slurmd"]}
SlurmUser=root
SlurmdUser=root
{auth}
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
MinJobAge=300
KillWait=5
MailProg=/bin/true
AccountingStoreFlags=job_comment
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort={self.ports["dbd"]}
AccountingStoragePass={self.munge_socket}
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
StateSaveLocation={r / "state"}
SlurmdSpoolDir={r / "spool"}
SlurmctldPidFile={r / "run/slurmctld.pid"}
SlurmdPidFile={r / "run/slurmd.pid"}
SlurmctldLogFile={self.logs / "slurmctld.log"}
SlurmdLogFile={self.logs / "slurmd.log"}
NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.memory_mib} State=UNKNOWN
PartitionName={self.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")

    def _start_slurmdbd(self, left):
        self._daemon("slurmdbd", ["slurmdbd"], self.root / "run/slurmdbd.pid", left)
        # The cluster must exist in the database before slurmctld registers; slurmdbd needs a moment to listen.
        add = ["sacctmgr", "-i", "add", "cluster", self.name]
        wait_for(lambda: run(add, timeout=left(), env=self.env).returncode == 0, left(), "sacctmgr add cluster",
                 interval=0.5)  # fmt: skip

    def _start_slurm(self, left):
        self._daemon("slurmctld", ["slurmctld"], self.root / "run/slurmctld.pid", left)
        self._daemon("slurmd", ["slurmd", "-N", "localhost"], self.root / "run/slurmd.pid", left)

        def idle():
            out = run(["sinfo", "-h", "-N", "-o", "%T"], timeout=left(), env=self.env).stdout.split()
            return out == ["idle"]

        try:
            wait_for(idle, left(), "the node idle in sinfo", interval=0.3)
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n{self.log_tail('slurmctld')}\n{self.log_tail('slurmd')}") from None

    # --- use --------------------------------------------------------------------------------------------

    def client(self, *args, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
        """Run a Slurm client command (sinfo, squeue, sacct, ...) against this cluster."""
        return run(args, timeout=timeout, check=check, env=self.env)

    def accounted_jobs(self) -> list[dict[str, str]]:
        """Every job the accounting database has: one dict per job (no steps)."""
        fields = ["JobIDRaw", "JobName", "State", "ExitCode", "WorkDir", "Comment"]
        out = self.client("sacct", "-X", "-a", "-P", "-n", "--starttime=2000-01-01", f"--format={','.join(fields)}")
        return [dict(zip(fields, line.split("|"))) for line in out.stdout.splitlines() if line.strip()]

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.logs / f"{name}.log"
        return f"--- {path}:\n" + (path.read_text(errors="replace")[-chars:] if path.exists() else "(none)")

    # --- teardown ---------------------------------------------------------------------------------------

    def stop(self, timeout: float = 30) -> None:
        """Cancel every job, then stop the daemons in reverse start order by the PIDs in their pid files
        (SIGTERM, SIGKILL after a grace period). Safe to call twice and after a failed start."""
        if "slurmctld" in self.pid_files:
            try:
                self.client("scancel", "--full", "--user=root", timeout=10, check=False)
                wait_for(lambda: not self.client("squeue", "-h", timeout=10, check=False).stdout.strip(),
                         timeout, "running jobs cancelled", interval=0.5)  # fmt: skip
            except (TimeoutError, subprocess.TimeoutExpired):
                pass
        for name, pid_file in reversed(list(self.pid_files.items())):
            try:
                pid = int(pid_file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if not _alive(pid) or not self._is(pid, name):
                continue
            os.kill(pid, signal.SIGTERM)
            try:
                wait_for(lambda: not _alive(pid), timeout / 2, f"{name} ({pid}) to stop")
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
        self.pid_files.clear()

    @staticmethod
    def _is(pid: int, name: str) -> bool:
        """Guard against a recycled PID: the process must still be the daemon we started."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        return re.search(rf"\b{'mysqld|mariadbd' if name == 'mariadbd' else name}\b", cmdline) is not None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    import sys

    cluster = SlurmCluster(Path(sys.argv[1] if len(sys.argv) > 1 else "slurm-scratch"))
    with cluster:
        print(f"export SLURM_CONF={cluster.conf}", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
