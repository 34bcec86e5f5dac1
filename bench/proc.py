"""The processes the benchmarks start and measure: the CPU time they used (from /proc, the
figure of cost per request), their children, and when they serve."""

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User and system CPU seconds of the processes, together."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (uvicorn's workers, nginx's), one level down."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def wait_until_serving(
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    process: "subprocess.Popen[bytes] | None" = None,
    seconds: float = 30.0,
) -> None:
    """Until ``url`` answers 200; fails after ``seconds``, or at once if ``process`` exits."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, headers=headers, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: its server exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {seconds} s")
        time.sleep(0.1)
