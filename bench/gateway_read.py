"""What the gateway costs on one authenticated read (``python -m bench.gateway_read``).

Starts the whole platform on free ports (fresh SQLite databases), registers a citizen, and drives
``GET /identity/v1/me`` with her token — verified by the gateway and again by identity-svc —
through the gateway and directly at identity-svc, in alternating rounds within the same run, so
that the ratios compare like with like on a noisy, shared machine. Prints throughput, p50 and p99
of each path, the ratios, and the gateway's CPU time per request (from /proc), the figure to
track as the gateway grows.

The load generator is asyncio + httpx in this process, on the same two cores as the servers:
absolute figures are low and move with the machine; the same-run ratios are the result.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.proc import cpu_seconds
from onevisit_dev.answers import register_citizen
from onevisit_dev.platform import PlatformConfig, running_platform


@dataclass
class Round:
    path: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float
    failures: Counter[str]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(
    url: str, token: str, *, concurrency: int, seconds: float, cpu_pid: int, label: str
) -> Round:
    latencies: list[float] = []
    errors = 0
    failures: Counter[str] = Counter()
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        for _ in range(concurrency):  # warm the connections and the JWKS caches
            (await client.get(url, headers=headers)).raise_for_status()
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(url, headers=headers)
                except httpx.HTTPError as exc:
                    errors += 1
                    failures[type(exc).__name__] += 1
                    continue
                if response.status_code != 200:
                    errors += 1
                    failures[str(response.status_code)] += 1
                latencies.append(time.perf_counter() - started)

        cpu_before = cpu_seconds([cpu_pid])
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds([cpu_pid]) - cpu_before
    return Round(label, len(latencies), errors, elapsed, latencies, cpu, failures)


def register(gateway: str, var_dir: Path) -> str:
    """A new citizen's access token: registered with the code texted to her phone (read in
    the platform's ``var_dir``), then signed in with her password."""
    phone = f"139{time.time_ns() % 100_000_000:08d}"
    password = "bench-Passw0rd-2026"
    with httpx.Client(base_url=gateway, timeout=30.0) as client:
        register_citizen(client, var_dir, phone, password)
        response = client.post(
            "/identity/v1/token",
            data={"grant_type": "password", "username": phone, "password": password},
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token


def summarise(rounds: list[Round], label: str) -> tuple[float, float, float, float]:
    mine = [r for r in rounds if r.path == label]
    throughput = statistics.median(r.throughput for r in mine)
    p50 = statistics.median(r.percentile(0.50) for r in mine) * 1000
    p99 = statistics.median(r.percentile(0.99) for r in mine) * 1000
    cpu_ms = statistics.median(r.cpu_seconds / r.requests for r in mine) * 1000
    errors = sum(r.errors for r in mine)
    failures = sum((r.failures for r in mine), Counter[str]())
    print(
        f"{label:<8} {throughput:8.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   "
        f"errors {errors}   serving-process CPU {cpu_ms:.3f} ms/request"
    )
    if failures:
        print(f"         failures: {dict(failures)}")
    return throughput, p50, p99, cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_read", description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per path, alternating")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="onevisit-bench-") as var_dir:
        config = PlatformConfig.on_free_ports(Path(var_dir))
        config.log_level = "WARNING"
        print("starting the platform on free ports ...")
        with running_platform(config) as platform:
            token = register(config.gateway_url, config.var_dir)
            targets = {
                "direct": (config.url("identity"), platform.pid_of("identity")),
                "gateway": (config.gateway_url, platform.pid_of("gateway")),
            }
            rounds: list[Round] = []
            for number in range(args.rounds):
                for label, (base, pid) in targets.items():
                    result = asyncio.run(
                        drive(
                            f"{base}/identity/v1/me",
                            token,
                            concurrency=args.concurrency,
                            seconds=args.seconds,
                            cpu_pid=pid,
                            label=label,
                        )
                    )
                    rounds.append(result)
                    print(f"  round {number + 1} {label:<8} {result.throughput:8.0f} req/s")
    print(
        f"\nGET /identity/v1/me, authenticated, {args.concurrency} connections, "
        f"{args.rounds} x {args.seconds:.0f} s per path (medians of rounds):"
    )
    direct = summarise(rounds, "direct")
    through = summarise(rounds, "gateway")
    print(
        f"\nratio gateway/direct: throughput {through[0] / direct[0]:.2f}, "
        f"p50 {through[1] / direct[1]:.2f}, p99 {through[2] / direct[2]:.2f}"
    )
    print("(the gateway row's CPU is the gateway process alone; the direct row's is identity-svc)")


if __name__ == "__main__":
    main()
