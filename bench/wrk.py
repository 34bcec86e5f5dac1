"""wrk (Debian's ``wrk``) driving a target, read back into figures; installed when missing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.proc import cpu_seconds

UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def ensure_tools() -> bool:
    """Whether nginx and wrk are there, installing them when missing and allowed."""
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    if not missing:
        return True
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(f"missing {missing}; install nginx-light and wrk to run the full comparison")
        return False
    print(f"installing nginx-light and wrk (missing: {', '.join(missing)})", flush=True)
    result = subprocess.run(
        ["apt-get", "install", "-y", "nginx-light", "wrk"], capture_output=True, check=False
    )
    return result.returncode == 0 and all(shutil.which(t) for t in ("nginx", "wrk"))


@dataclass
class Run:
    target: str
    connections: int
    requests: int
    seconds: float
    p50: float
    p99: float
    non_2xx: int
    cpu_seconds: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds the watched processes spent per request answered."""
        return self.cpu_seconds / max(self.requests, 1) * 1000


def _seconds(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if match is None:
        raise ValueError(f"unexpected wrk latency {value!r}")
    return float(match[1]) * UNITS[match[2]]


def wrk(
    target: str,
    url: str,
    *,
    connections: int,
    seconds: int,
    cpu_pids: list[int],
    headers: tuple[str, ...] = (),
    script: Path | None = None,
    script_args: tuple[str, ...] = (),
    threads: int | None = None,
    timeout: int | None = None,
) -> Run:
    """One wrk run against ``url``, with the CPU the processes ``cpu_pids`` used meanwhile.
    ``timeout``: seconds after which wrk gives a request up (its own default is 2 s; a request
    given up counts as a socket timeout, not in the latencies)."""
    threads = threads or min(2, connections)
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if timeout is not None:
        args.append(f"--timeout={timeout}s")
    for header in headers:
        args += ["-H", header]
    if script is not None:
        args += ["-s", str(script)]
    args.append(url)
    if script_args:
        args += ["--", *script_args]
    before = cpu_seconds(cpu_pids)
    output = subprocess.run(
        args, capture_output=True, text=True, check=True, timeout=seconds + (timeout or 0) + 30
    ).stdout
    cpu = cpu_seconds(cpu_pids) - before
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if done is None or p50 is None or p99 is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: .*", output)
    if errors:
        print(f"  {target}: {errors[0]}")
    return Run(
        target,
        connections,
        int(done[1]),
        float(done[2]) * UNITS[done[3]],
        _seconds(p50[1]),
        _seconds(p99[1]),
        int(non_2xx[1]) if non_2xx else 0,
        cpu,
    )
