"""What the gateway's proxy path costs against nginx (``python -m bench.gateway_proxy``).

One plain FastAPI upstream (uvicorn) answers a small JSON GET, publishes the JWKS of a key
this benchmark signs tokens with and, as identity-svc would, a revocation list of ``--revoked``
sessions and clients (none of them the benchmark's token), so that the gateway's check of every
token looks up a list of that size. In front of it, in the same run: the gateway (token
verification on: the request goes to a route that needs an access token), nginx proxying the
same upstream with kept-alive connections, and nothing (the upstream direct). wrk drives each,
in alternating rounds, at 64 connections (throughput, p50, p99) and at one (the latency a hop
adds). Each proxy's CPU per request is its processes' CPU time (``/proc/<pid>/stat``) over the
requests wrk completed. Then the routing decision alone (region from the path or the token,
then the pool) with a region table of one pool against one with a pool for every county and
township of Zhejiang (catalog-svc's region data), timed in process.

Tracing on against off, same run: a second gateway process, configured alike but with
``GATEWAY_OTLP_TRACES_ENDPOINT`` set (every request sampled unless ``--trace-sample-ratio``
says otherwise: the dearest case), exporting its server and client spans by OTLP/HTTP to a
receiver in this benchmark's process that decodes and counts them; wrk drives it in the same
alternating rounds, and the report gives its CPU per request, throughput and added latency
against the gateway with tracing off, and the spans received per request (two for each sampled
one: the work was really done).

nginx and wrk come from Debian (``nginx-light``, ``wrk``): when missing and the benchmark runs
as root, it installs them with apt-get, saying so; otherwise it says what is missing and stops.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from bench.proc import children, wait_until_serving
from bench.wrk import Run, ensure_tools, wrk
from onevisit_dev.platform import free_port

SERVICES = ("identity", "catalog", "case", "rating", "exchange")
#: The gateway's secret keys (``GATEWAY_<name>_KEY``), which production wants of its own.
PRODUCTION_KEYS = ("CURSOR", "REQUEST_DIGEST", "FORWARDED")
JWKS_PATH = "/identity/v1/.well-known/jwks.json"
REVOCATIONS_PATH = "/identity/v1/revocations"
#: Not public in the shipped routing table: the gateway verifies the token of every request.
PROTECTED_PATH = "/cases/v1/cases/330302-20261126-000001"


def revoked_session(index: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-revoked-session-{index}"))


def citizen_token(minter: Any, sid: str, *, age_seconds: int = 1) -> str:
    """A citizen's token as identity-svc issues it: with its session (``sid``), which the
    gateway looks up in the revocation list on every request."""
    issued_at = int(time.time()) - age_seconds
    token: str = minter.sign(
        {
            "iss": minter.issuer,
            "aud": minter.audience,
            "sub": "bench-citizen",
            "typ": "citizen",
            "loa": 2,
            "region": "330302026003",
            "roles": [],
            "sid": sid,
            "iat": issued_at,
            "exp": issued_at + 3600,
        }
    )
    return token


def revocation_entries(count: int) -> list[dict[str, Any]]:
    """``count`` entries in force, nine sessions to a client, none the benchmark token's."""
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    expires_at = (now + dt.timedelta(minutes=10)).isoformat()
    return [
        {
            "kind": "client" if index % 10 == 9 else "session",
            "id": f"ds-bench-{index}" if index % 10 == 9 else revoked_session(index),
            "issued_up_to": int(now.timestamp()),
            "generations_below": None,
            "expires_at": expires_at,
        }
        for index in range(count)
    ]


def upstream_app(jwks_file: Path, revoked: int) -> Any:
    from fastapi import FastAPI

    jwks: dict[str, Any] = json.loads(jwks_file.read_text(encoding="utf-8"))
    revocations = {"items": revocation_entries(revoked), "next_cursor": "bench"}
    app = FastAPI()

    @app.get(JWKS_PATH)
    async def keys() -> dict[str, Any]:
        return jwks

    @app.get(REVOCATIONS_PATH)
    async def revoked_tokens(cursor: str | None = None) -> dict[str, Any]:
        # The whole list first, then (as identity-svc's cursor would) nothing new.
        return {"items": [], "next_cursor": "bench"} if cursor else revocations

    @app.get("/cases/v1/cases/{case_no}")
    async def case(case_no: str) -> dict[str, Any]:
        return {"case_no": case_no, "status": "completed", "item_code": "330000-ID-LOSS"}

    return app


def serve_upstream(port: int, jwks_file: Path, revoked: int) -> None:
    import uvicorn

    uvicorn.run(
        upstream_app(jwks_file, revoked),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


@contextlib.contextmanager
def process(
    args: list[str], log: Path, *, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process; what it writes goes to ``log`` (the gateway's JSON access log too)."""
    with log.open("wb") as output:
        proc = subprocess.Popen(
            args, env={**os.environ, **(env or {})}, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class SpanReceiver(ThreadingHTTPServer):
    """An OTLP/HTTP traces endpoint on a free port that decodes what it is sent and counts the
    spans (what a collector's receiver would do first), answering as a collector does."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ExportHandler)
        self.spans = 0
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"

    def count(self, body: bytes) -> None:
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        spans = sum(
            len(scope.spans) for resource in export.resource_spans for scope in resource.scope_spans
        )
        with self._lock:
            self.spans += spans


class _ExportHandler(BaseHTTPRequestHandler):
    server: SpanReceiver

    def do_POST(self) -> None:
        self.server.count(self.rfile.read(int(self.headers.get("content-length", "0"))))
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def nginx_config(directory: Path, listen: int, upstream: int) -> Path:
    config = directory / "nginx.conf"
    config.write_text(
        f"""
worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {directory};
    proxy_temp_path {directory};
    fastcgi_temp_path {directory};
    uwsgi_temp_path {directory};
    scgi_temp_path {directory};
    upstream service {{ server 127.0.0.1:{upstream}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{listen};
        location / {{
            proxy_pass http://service;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
""",
        encoding="utf-8",
    )
    return config


def median_of(runs: list[Run], target: str, connections: int) -> dict[str, float]:
    mine = [run for run in runs if run.target == target and run.connections == connections]
    return {
        "rps": statistics.median(run.throughput for run in mine),
        "p50": statistics.median(run.p50 for run in mine),
        "p99": statistics.median(run.p99 for run in mine),
        "cpu_us": statistics.median(run.cpu_seconds / run.requests for run in mine) * 1e6,
        "non_2xx": sum(run.non_2xx for run in mine),
    }


REGIONS_DATA = Path(__file__).parents[1] / "catalog-svc" / "data" / "regions"


def county_and_township_codes() -> list[str]:
    import csv

    with (REGIONS_DATA / "zj_divisions_mca2025.csv").open(encoding="utf-8") as divisions:
        counties = [row["code"] for row in csv.DictReader(divisions) if row["level"] == "3"]
    with (REGIONS_DATA / "zj_townships_nbs2023.csv").open(encoding="utf-8") as townships:
        return counties + [row["code"] for row in csv.DictReader(townships)]


def routing_decision_cost(*, repeat: int = 5, number: int = 20_000) -> tuple[int, float, float]:
    """Pools in the big table, and seconds per decision with one pool and with every pool."""
    import random
    import timeit

    from gateway.routing import ServiceRoute, compile_path_pattern, region_prefix

    codes = county_and_township_codes()
    random.seed(20261126)
    # What requests carry: case numbers of counties, token claims of villages, a few unknowns.
    paths = [f"/cases/v1/cases/{code[:6]}-20261126-000001" for code in random.sample(codes, 200)]
    townships = [code for code in codes if len(code) == 9]
    claims = [code + "003" for code in random.sample(townships, 200)]

    def route(regions: list[str]) -> ServiceRoute:
        return ServiceRoute(
            name="case",
            prefix="/cases/v1",
            upstreams=("http://province",),
            timeout_seconds=1.0,
            public=(),
            metrics_route="/cases/v1/*",
            pools={region_prefix(code): ("http://pool",) for code in regions},
            region_paths=(compile_path_pattern("/cases/v1/cases/{region_id}/**"),),
        )

    def decide(table: ServiceRoute) -> None:
        for path, claim in zip(paths, claims, strict=True):
            table.pool_for(table.region_in_path(path))
            table.pool_for(region_prefix(claim))

    def per_decision(table: ServiceRoute) -> float:
        runs = timeit.repeat(lambda: decide(table), repeat=repeat, number=number // 400)
        return min(runs) / (number // 400) / 400

    one, every = route(["330302"]), route(codes)
    # Alternate, so that the machine's noise falls on both alike.
    samples = [(per_decision(one), per_decision(every)) for _ in range(3)]
    return len(codes), min(a for a, _ in samples), min(b for _, b in samples)


def revocation_check_cost(revoked: int, *, number: int = 20_000) -> tuple[float, float]:
    """Seconds per cached token check (the gateway's common case) by a verifier holding no
    revocation list, and by one holding ``revoked`` entries, timed alternately in process."""
    import asyncio

    from servicekit.auth import TokenVerifier
    from servicekit.revocations import RevocationList, page_from_json
    from servicekit.testing import TokenMinter

    minter = TokenMinter()
    token = citizen_token(minter, str(uuid.uuid4()))
    held = RevocationList()
    held.apply(page_from_json({"items": revocation_entries(revoked)}).entries)

    def verifier(revocations: RevocationList | None) -> TokenVerifier:
        return TokenVerifier(
            minter.jwks, issuer=minter.issuer, audience=minter.audience, revocations=revocations
        )

    async def per_check(checking: TokenVerifier) -> float:
        await checking.verify(token)  # cached from here on
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(number):
                await checking.verify(token)
            best = min(best, (time.perf_counter() - started) / number)
        return best

    async def measure() -> tuple[float, float]:
        plain, listed = verifier(None), verifier(held)
        samples = [(await per_check(plain), await per_check(listed)) for _ in range(3)]
        return min(a for a, _ in samples), min(b for _, b in samples)

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_proxy", description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run at -c64")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per target")
    parser.add_argument(
        "--routes-file", type=Path, help="the gateway's routing table (default: the shipped one)"
    )
    parser.add_argument(
        "--serve-upstream", nargs=3, metavar=("PORT", "JWKS_FILE", "N"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--revoked",
        type=int,
        default=2000,
        help="entries in the revocation list the gateway holds (sessions and clients)",
    )
    parser.add_argument(
        "--trace-sample-ratio",
        type=float,
        default=1.0,
        help="the traced gateway's TRACE_SAMPLE_RATIO (1: every request's spans exported)",
    )
    options = parser.parse_args()
    if options.serve_upstream:
        port, jwks, revoked = options.serve_upstream
        serve_upstream(int(port), Path(jwks), int(revoked))
        return
    if not ensure_tools():
        return

    from servicekit.testing import TokenMinter

    minter = TokenMinter()
    token = citizen_token(minter, str(uuid.uuid4()))
    auth = {"Authorization": f"Bearer {token}"}
    wrk_auth = (f"Authorization: Bearer {token}",)
    upstream_port, gateway_port, nginx_port = free_port(), free_port(), free_port()
    traced_port = free_port()
    receiver = SpanReceiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="bench-gateway-proxy-") as tmp:
        directory = Path(tmp)
        jwks_file = directory / "jwks.json"
        jwks_file.write_text(json.dumps(minter.jwks_document()), encoding="utf-8")
        upstream_url = f"http://127.0.0.1:{upstream_port}"
        gateway_env = {
            "GATEWAY_UPSTREAMS": json.dumps(dict.fromkeys(SERVICES, upstream_url)),
            "GATEWAY_ENVIRONMENT": "production",
            # Production refuses the development keys: keys of this run's own.
            **{
                f"GATEWAY_{name}_KEY": base64.b64encode(os.urandom(32)).decode()
                for name in PRODUCTION_KEYS
            },
            "GATEWAY_SEALING_KEYS": json.dumps(
                {"bench": base64.b64encode(os.urandom(32)).decode()}
            ),
            "GATEWAY_SEALING_KEY_ID": "bench",
        }
        if options.routes_file:
            gateway_env["GATEWAY_ROUTES_FILE"] = str(options.routes_file)
        python = sys.executable
        with contextlib.ExitStack() as stack:
            stack.enter_context(
                process(
                    [
                        python,
                        "-m",
                        "bench.gateway_proxy",
                        "--serve-upstream",
                        str(upstream_port),
                        str(jwks_file),
                        str(options.revoked),
                    ],
                    directory / "upstream.log",
                )
            )
            gateway = stack.enter_context(
                process(
                    [python, "-m", "gateway", "--host", "127.0.0.1", "--port", str(gateway_port)],
                    directory / "gateway.log",
                    env=gateway_env,
                )
            )
            traced = stack.enter_context(
                process(
                    [python, "-m", "gateway", "--host", "127.0.0.1", "--port", str(traced_port)],
                    directory / "gateway-traced.log",
                    env={
                        **gateway_env,
                        "GATEWAY_OTLP_TRACES_ENDPOINT": receiver.endpoint,
                        "GATEWAY_TRACE_SAMPLE_RATIO": str(options.trace_sample_ratio),
                    },
                )
            )
            nginx = stack.enter_context(
                process(
                    ["nginx", "-c", str(nginx_config(directory, nginx_port, upstream_port))],
                    directory / "nginx.log",
                )
            )
            targets = {
                "direct": (f"{upstream_url}{PROTECTED_PATH}", []),
                "nginx": (f"http://127.0.0.1:{nginx_port}{PROTECTED_PATH}", []),
                "gateway": (f"http://127.0.0.1:{gateway_port}{PROTECTED_PATH}", [gateway.pid]),
                "traced": (f"http://127.0.0.1:{traced_port}{PROTECTED_PATH}", [traced.pid]),
            }
            for url, _pids in targets.values():
                wait_until_serving(url, auth)
            targets["nginx"][1].extend([nginx.pid, *children(nginx.pid)])
            # The gateway must refuse a request without a token, or it would not be measured.
            refused = httpx.get(targets["gateway"][0], timeout=5.0)
            if refused.status_code != 401:
                raise RuntimeError(f"the gateway let an unauthenticated request through: {refused}")
            # Issued before the upstream started, so that its entry covers it.
            old_token = citizen_token(minter, revoked_session(0), age_seconds=300)
            revoked = {"Authorization": f"Bearer {old_token}"}
            checks = "off"
            for _ in range(50):  # the gateway's first poll of the list
                if (
                    httpx.get(targets["gateway"][0], headers=revoked, timeout=5.0).status_code
                    == 401
                ):
                    checks = "on"
                    break
                time.sleep(0.1)
            print(f"revocation list ({options.revoked} entries) checked by the gateway: {checks}")
            runs: list[Run] = []
            warm_up: list[Run] = []
            for target, (url, pids) in targets.items():  # warm up: pools, caches, JIT-less paths
                warm_up.append(
                    wrk(target, url, connections=64, seconds=1, cpu_pids=pids, headers=wrk_auth)
                )
            for _round in range(options.rounds):
                for target, (url, pids) in targets.items():
                    for connections, seconds in (
                        (64, options.seconds),
                        (1, max(2, options.seconds // 2)),
                    ):
                        runs.append(
                            wrk(
                                target,
                                url,
                                connections=connections,
                                seconds=seconds,
                                cpu_pids=pids,
                                headers=wrk_auth,
                            )
                        )
    # The traced gateway has exported what it held when it stopped (its shutdown flushes).
    traced_requests = sum(run.requests for run in (*warm_up, *runs) if run.target == "traced")
    report(
        runs,
        rounds=options.rounds,
        spans_per_request=receiver.spans / max(traced_requests, 1),
        sample_ratio=options.trace_sample_ratio,
    )
    receiver.shutdown()
    try:
        without, with_list = revocation_check_cost(options.revoked)
    except ImportError:  # a kit from before the revocation list (comparing with a baseline)
        print("cached token check: this kit holds no revocation list")
    else:
        print(
            f"cached token check: no list {without * 1e9:.0f} ns, {options.revoked} revoked "
            f"{with_list * 1e9:.0f} ns, ratio {with_list / without:.3f}"
        )
    pools, one, every = routing_decision_cost()
    print(
        f"routing decision: 1 pool {one * 1e9:.0f} ns, {pools} pools {every * 1e9:.0f} ns, "
        f"ratio {every / one:.3f}  (target <= 1.02)"
    )


def report(runs: list[Run], *, rounds: int, spans_per_request: float, sample_ratio: float) -> None:
    print(f"wrk, a small authenticated JSON GET; median of {rounds} alternating rounds")
    figures = {}
    for target in ("direct", "nginx", "gateway", "traced"):
        busy, alone = median_of(runs, target, 64), median_of(runs, target, 1)
        figures[target] = (busy, alone)
        cpu = f"{busy['cpu_us']:6.1f} us/request" if target != "direct" else "      -"
        print(
            f"{target:<8} -c64 {busy['rps']:8.0f} req/s  p50 {busy['p50'] * 1e3:6.2f} ms  "
            f"p99 {busy['p99'] * 1e3:6.2f} ms  CPU {cpu}   "
            f"-c1 p50 {alone['p50'] * 1e6:6.0f} us  non-2xx {busy['non_2xx'] + alone['non_2xx']}"
        )
    gateway, nginx, direct = figures["gateway"][0], figures["nginx"][0], figures["direct"][0]
    print(f"throughput gateway/nginx  {gateway['rps'] / nginx['rps']:.2f}  (target >= 0.95)")
    print(f"throughput gateway/direct {gateway['rps'] / direct['rps']:.2f}")
    print(
        f"CPU per request gateway/nginx {gateway['cpu_us'] / nginx['cpu_us']:.1f}x  "
        f"(gateway {gateway['cpu_us']:.0f} us, target <= 90 us)"
    )
    for target in ("nginx", "gateway", "traced"):
        added = (figures[target][1]["p50"] - figures["direct"][1]["p50"]) * 1e6
        print(
            f"added p50 latency at -c1, {target}: {added:.0f} us  (gateway target <= 150 us);"
            f" its CPU per request at -c1: {figures[target][1]['cpu_us']:.0f} us"
        )
    traced = figures["traced"][0]
    cpu_ratio = traced["cpu_us"] / gateway["cpu_us"]
    latency_ratio = figures["traced"][1]["p50"] / figures["gateway"][1]["p50"]
    print(
        f"tracing on/off (sample ratio {sample_ratio:g}, spans exported by OTLP/HTTP): "
        f"CPU per request {cpu_ratio:.2f}x ({traced['cpu_us']:.0f} us against "
        f"{gateway['cpu_us']:.0f} us), throughput {traced['rps'] / gateway['rps']:.2f}, "
        f"-c1 p50 {latency_ratio:.2f}x"
    )
    print(
        f"spans received per request wrk saw answered: {spans_per_request:.2f} "
        f"({2 * sample_ratio:g} expected: a server and a client span per sampled request; "
        f"fewer: the exporter's queue dropped some)"
    )


if __name__ == "__main__":
    main()
