"""What tokens cost (``python -m bench.identity_tokens``): verification in the shared kit, one
password login's argon2 work, and refresh-token grants through identity-svc's app.

Three measurements, each against a baseline taken in the same run (the machine is shared and
noisy: the ratios hold where the absolute figures move):

- the kit's ``TokenVerifier``, in process, for ES256 (what identity-svc signs with) and EdDSA
  (keys made before): a first verification (a token it has not seen: full signature and claim
  checks) and a repeated one (served from its cache), in µs per call,
  against PyJWT's bare ``jwt.decode`` of the same tokens and against awaiting an empty coroutine;
- one password login's argon2id verification with identity-svc's default parameters, against the
  same memory at one pass, with the parameters that would land in the 50–100 ms target;
- refresh-token grants per second through identity-svc's app (ASGI in process, a fresh SQLite or
  PostgreSQL database), against ``GET /healthz`` through the same client: the gateway's hop and
  the network are not in these figures;
- refresh-token grants per second through the gateway: the platform runs as real processes on
  free ports (identity-svc on the scratch PostgreSQL database with ``--postgres``), driven by
  wrk (one connection per session; ``refresh_chain.lua`` spends each answer's refresh token
  next), against ``GET /identity/v1/.well-known/jwks.json`` through the same gateway; with
  the CPU per grant of the gateway and identity-svc (from /proc). The gateway's per-address
  limit on the credentials routes is taken out of its routing table for the run: the
  figure is the path's capacity, which in production many addresses share.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
from argon2 import PasswordHasher, Type
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import ECAlgorithm, OKPAlgorithm
from jwt.utils import base64url_decode
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.proc import cpu_seconds
from bench.wrk import ensure_tools, wrk
from identity_svc.main import create_app
from identity_svc.settings import IdentitySettings
from onevisit_dev.answers import sms_code
from servicekit.auth import TokenVerifier
from servicekit.migrations import upgrade_to_head

SERVICE_DIR = Path(__file__).resolve().parents[1] / "identity-svc"
JWKS_PATH = "/identity/v1/.well-known/jwks.json"
ISSUER, AUDIENCE = "http://127.0.0.1:8000/identity/v1", "onevisit"
PASSWORD = "Songtai-2026!"
REFRESH_CHAIN = Path(__file__).with_name("refresh_chain.lua")


# (a) verification -------------------------------------------------------------------------------


#: What identity-svc signs with (ES256), and what keys made before ES256 sign with (EdDSA).
ALGORITHMS: dict[str, Callable[[], tuple[Any, Any]]] = {
    "ES256": lambda: (ec.generate_private_key(ec.SECP256R1()), ECAlgorithm(ECAlgorithm.SHA256)),
    "EdDSA": lambda: (Ed25519PrivateKey.generate(), OKPAlgorithm()),
}


def mint(private_key: Any, algorithm: str, kid: str, count: int) -> list[str]:
    now = int(time.time())
    return [
        jwt.encode(
            {
                "iss": ISSUER,
                "aud": AUDIENCE,
                "sub": f"0190a000-0000-7000-8000-{n:012d}",
                "typ": "citizen",
                "loa": 2,
                "region": "330302026003",
                "roles": [],
                "iat": now,
                "exp": now + 600,
                "jti": secrets.token_hex(8),
            },
            private_key,
            algorithm=algorithm,
            headers={"kid": kid},
        )
        for n in range(count)
    ]


async def per_call_us(calls: int, call: Callable[[int], Awaitable[object]]) -> float:
    began = time.perf_counter()
    for n in range(calls):
        await call(n)
    return (time.perf_counter() - began) / calls * 1e6


async def verification(args: argparse.Namespace) -> None:
    print("(a) token verification, in process (µs per call, median of rounds)")
    for algorithm, make in ALGORITHMS.items():
        await verification_of(args, algorithm, make)


async def verification_of(
    args: argparse.Namespace, algorithm: str, make: Callable[[], tuple[Any, Any]]
) -> None:
    private_key, primitive = make()
    kid = "bench-key"
    public = private_key.public_key()
    document = {"keys": [{**primitive.to_jwk(public, as_dict=True), "kid": kid, "alg": algorithm}]}

    async def source() -> dict[str, Any]:
        return document

    tokens = mint(private_key, algorithm, kid, args.first_tokens)
    verifier = TokenVerifier(
        source, issuer=ISSUER, audience=AUDIENCE, cache_size=args.first_tokens + 1
    )
    await verifier.verify(tokens[0])  # keys fetched once, outside the timing

    async def empty(_n: int) -> None:
        return None

    signed = [token.rsplit(".", 1) for token in tokens]
    signatures = [(part.encode(), base64url_decode(sig)) for part, sig in signed]

    async def signature_only(n: int) -> None:
        message, signature = signatures[n]
        if not primitive.verify(message, public, signature):
            raise SystemExit("a signature did not verify")

    async def bare_decode(n: int) -> object:
        return jwt.decode(
            tokens[n], public, algorithms=[algorithm], audience=AUDIENCE, issuer=ISSUER
        )

    results: dict[str, list[float]] = {
        "empty": [],
        "signature": [],
        "pyjwt": [],
        "first": [],
        "cached": [],
    }
    for _ in range(args.rounds):
        fresh = TokenVerifier(
            source, issuer=ISSUER, audience=AUDIENCE, cache_size=args.first_tokens + 1
        )
        await fresh.verify(tokens[0])
        results["empty"].append(await per_call_us(args.cached_calls, empty))
        results["signature"].append(await per_call_us(args.first_tokens - 1, signature_only))
        results["pyjwt"].append(await per_call_us(args.first_tokens - 1, bare_decode))

        async def first(n: int, fresh: TokenVerifier = fresh) -> object:
            return await fresh.verify(tokens[n + 1])

        results["first"].append(await per_call_us(args.first_tokens - 1, first))

        async def cached(_n: int) -> object:
            return await verifier.verify(tokens[0])

        results["cached"].append(await per_call_us(args.cached_calls, cached))
    median = {name: statistics.median(values) for name, values in results.items()}
    issued = " (identity-svc's)" if algorithm == "ES256" else " (keys made before ES256)"
    print(f"  {algorithm}{issued}")
    print(f"    await of an empty coroutine     {median['empty']:8.2f}")
    print(f"    signature check alone            {median['signature']:8.2f}")
    print(f"    PyJWT jwt.decode                 {median['pyjwt']:8.2f}")
    print(
        f"    kit, first verification          {median['first']:8.2f}"
        f"   ×{median['first'] / median['pyjwt']:.2f} PyJWT, "
        f"×{median['first'] / median['signature']:.2f} signature alone   target ≤ 100"
    )
    print(
        f"    kit, cached                      {median['cached']:8.2f}"
        f"   ×{median['cached'] / median['pyjwt']:.3f} PyJWT, "
        f"×{median['cached'] / median['empty']:.1f} empty await   target ≤ 5"
    )


# (b) argon2 -------------------------------------------------------------------------------------


def verify_ms(hasher: PasswordHasher, times: int) -> float:
    hashed = hasher.hash(PASSWORD)
    samples = []
    for _ in range(times):
        began = time.perf_counter()
        hasher.verify(hashed, PASSWORD)
        samples.append((time.perf_counter() - began) * 1e3)
    return statistics.median(samples)


#: Candidates tried when the defaults miss the target: (time cost, memory KiB, parallelism),
#: all at or above RFC 9106's and OWASP's minimums for argon2id (m=19 MiB with t=2).
CANDIDATES = [(4, 19_456, 1), (1, 47_104, 1), (2, 32_768, 1), (3, 32_768, 1), (1, 65_536, 1)]


def argon2_cost(args: argparse.Namespace) -> None:
    defaults = IdentitySettings()
    memory, parallelism = defaults.argon2_memory_kib, defaults.argon2_parallelism

    def hasher(time_cost: int, memory_kib: int, lanes: int) -> PasswordHasher:
        return PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=lanes, type=Type.ID
        )

    base_ms = verify_ms(hasher(1, memory, parallelism), args.logins)
    login_ms = verify_ms(hasher(defaults.argon2_time_cost, memory, parallelism), args.logins)
    print("(b) one password login's argon2id verification (ms, median)")
    print(f"    t=1, m={memory} KiB, p={parallelism} (baseline)      {base_ms:7.1f}")
    print(
        f"    t={defaults.argon2_time_cost}, m={memory} KiB, p={parallelism} (defaults)      "
        f"{login_ms:7.1f}   ×{login_ms / base_ms:.2f} baseline   target 50–100"
    )
    if 50 <= login_ms <= 100:
        return
    for time_cost, memory_kib, lanes in CANDIDATES:
        cost = verify_ms(hasher(time_cost, memory_kib, lanes), args.logins)
        mark = "   within the target" if 50 <= cost <= 100 else ""
        print(
            f"    t={time_cost}, m={memory_kib} KiB, p={lanes}"
            f"{'':{22 - len(str(memory_kib)) - len(str(time_cost))}}{cost:7.1f}"
            f"   ×{cost / base_ms:.2f} baseline{mark}"
        )


# (c) refresh grants -----------------------------------------------------------------------------


async def postgres_database(
    server: str, *, create: str | None = None, drop: str | None = None
) -> None:
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            if create:
                await connection.execute(text(f'CREATE DATABASE "{create}"'))
            if drop:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@asynccontextmanager
async def scratch_database(postgres: str | None, tmp: Path) -> AsyncIterator[str]:
    """A fresh SQLite file, or a fresh database on the PostgreSQL server given (dropped after)."""
    if postgres is None:
        yield f"sqlite+aiosqlite:///{tmp / 'identity.db'}"
        return
    name = f"ov_bench_identity_{secrets.token_hex(4)}"
    await postgres_database(postgres, create=name)
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        await postgres_database(postgres, drop=name)


async def refresh_chain(
    client: httpx.AsyncClient, refresh_token: str, deadline: float
) -> tuple[int, str]:
    """Refresh one session again and again (each answer's token is the next one to spend);
    the number of grants and the session's newest token."""
    grants = 0
    while time.perf_counter() < deadline:
        response = await client.post(
            "/identity/v1/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        )
        if response.status_code != 200:
            raise SystemExit(f"refresh: {response.status_code} {response.text[:200]}")
        refresh_token = response.json()["refresh_token"]
        grants += 1
    return grants, refresh_token


async def commit_loop(engine: AsyncEngine, deadline: float) -> int:
    """The floor under any grant that writes: one-row transactions, committed one by one."""
    count = 0
    while time.perf_counter() < deadline:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO bench_commit (n) VALUES (1)"))
        count += 1
    return count


async def health_loop(client: httpx.AsyncClient, deadline: float) -> int:
    count = 0
    while time.perf_counter() < deadline:
        response = await client.get("/healthz")
        if response.status_code != 200:
            raise SystemExit(f"/healthz: {response.status_code}")
        count += 1
    return count


async def signed_in(
    client: httpx.AsyncClient, var_dir: Path, sessions: int, *, first: int = 0
) -> list[str]:
    """``sessions`` new citizens, each signed in once with a code texted to her phone (which
    registers it, with no password to hash), the code read where identity-svc's development
    sender writes (``var_dir``): their first refresh tokens."""
    tokens = []
    for n in range(first, first + sessions):
        phone = str(13_900_000_000 + n)
        asked = await client.post("/identity/v1/sms-codes", json={"phone": phone})
        if asked.status_code != 202:
            raise SystemExit(f"sms code: {asked.status_code} {asked.text[:200]}")
        login = await client.post(
            "/identity/v1/token",
            data={"grant_type": "sms_code", "username": phone, "code": sms_code(var_dir, phone)},
        )
        if login.status_code != 200:
            raise SystemExit(f"sign-in: {login.status_code} {login.text[:200]}")
        tokens.append(login.json()["refresh_token"])
    return tokens


async def measure_refresh(
    args: argparse.Namespace, client: httpx.AsyncClient, engine: AsyncEngine, var_dir: Path
) -> dict[str, list[float]]:
    """Alternating rounds, ``sessions`` loops at once: bare commits on the same database,
    ``/healthz``, then refresh chains."""
    tokens = await signed_in(client, var_dir, args.sessions)
    rates: dict[str, list[float]] = {"commit": [], "healthz": [], "refresh": []}
    for _ in range(args.rounds):
        deadline = time.perf_counter() + args.seconds
        began = time.perf_counter()
        counts = await asyncio.gather(*(commit_loop(engine, deadline) for _ in tokens))
        rates["commit"].append(sum(counts) / (time.perf_counter() - began))
        deadline = time.perf_counter() + args.seconds
        began = time.perf_counter()
        counts = await asyncio.gather(*(health_loop(client, deadline) for _ in tokens))
        rates["healthz"].append(sum(counts) / (time.perf_counter() - began))
        deadline = time.perf_counter() + args.seconds
        began = time.perf_counter()
        chains = await asyncio.gather(*(refresh_chain(client, t, deadline) for t in tokens))
        elapsed = time.perf_counter() - began
        rates["refresh"].append(sum(grants for grants, _ in chains) / elapsed)
        # The next round continues each session from its newest token.
        tokens = [token for _, token in chains]
    return rates


async def refresh_rate(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="onevisit-bench-identity-") as tmp:
        async with scratch_database(args.postgres, Path(tmp)) as url:
            engine = create_async_engine(url)
            async with engine.begin() as connection:
                await upgrade_to_head(connection, SERVICE_DIR)
                await connection.execute(text("CREATE TABLE bench_commit (n INTEGER)"))
            settings = IdentitySettings(
                database_url=url, var_dir=Path(tmp), log_level="WARNING", environment="test"
            )
            app = create_app(settings)
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://bench")
            try:
                async with app.router.lifespan_context(app), client:
                    rates = await measure_refresh(args, client, engine, Path(tmp))
            finally:
                await engine.dispose()
    commit = statistics.median(rates["commit"])
    healthz = statistics.median(rates["healthz"])
    refresh = statistics.median(rates["refresh"])
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"(c) refresh-token grants through identity-svc's app in process ({backend}, "
        f"{args.sessions} sessions at once; per second, median of rounds)"
    )
    print(f"    one-row commits on the same database  {commit:8.0f}")
    print(f"    GET /healthz (baseline)            {healthz:8.0f}")
    print(
        f"    grant_type=refresh_token           {refresh:8.0f}   ×{refresh / healthz:.3f} "
        f"/healthz, ×{refresh / commit:.2f} bare commits"
    )
    print(f"    target ≥ 500/s through the gateway: ×{refresh / 500:.2f} of it, in process, here")


# (d) refresh grants through the gateway ---------------------------------------------------------


def routes_without_address_limits(directory: Path) -> Path:
    """The shipped routing table without its ``[[rate_limits]]`` tables (the file's last
    section: the copy is cut there, and checked to have lost nothing else)."""
    from gateway.settings import ROUTES_SHIPPED

    text = ROUTES_SHIPPED.read_text(encoding="utf-8")
    lines = text.splitlines()
    cut = next((n for n, line in enumerate(lines) if line.strip() == "[[rate_limits]]"), len(lines))
    path = directory / "routes-bench.toml"
    path.write_text("\n".join(lines[:cut]) + "\n", encoding="utf-8")
    expected = tomllib.loads(text)
    expected.pop("rate_limits", None)
    if tomllib.loads(path.read_text(encoding="utf-8")) != expected:
        raise SystemExit("the shipped routing table has sections after [[rate_limits]]")
    return path


def over_http(
    base: str, var_dir: Path, args: argparse.Namespace, pids: dict[str, int]
) -> dict[str, list[float]]:
    """Alternating wrk rounds, one connection per session: the JWKS, then refresh chains (each
    round's sessions signed in afresh), with each process's CPU per grant."""
    rates: dict[str, list[float]] = {"jwks": [], "refresh": [], "gateway_ms": [], "identity_ms": []}
    sessions = args.sessions
    for n in range(args.rounds):
        jwks = wrk(
            "jwks",
            base + JWKS_PATH,
            connections=sessions,
            threads=sessions,
            seconds=round(args.seconds),
            cpu_pids=[],
        )
        if jwks.non_2xx:
            raise SystemExit(f"jwks: {jwks.non_2xx} answers were not 2xx")
        rates["jwks"].append(jwks.throughput)
        tokens = asyncio.run(signed_in_over_http(base, var_dir, sessions, first=n * sessions))
        cpu = {name: cpu_seconds([pid]) for name, pid in pids.items()}
        refresh = wrk(
            "refresh",
            base + "/identity/v1/token",
            connections=sessions,
            threads=sessions,
            seconds=round(args.seconds),
            cpu_pids=[],
            script=REFRESH_CHAIN,
            script_args=tuple(tokens),
        )
        if refresh.non_2xx:
            raise SystemExit(f"refresh: {refresh.non_2xx} grants were refused")
        rates["refresh"].append(refresh.throughput)
        for name, pid in pids.items():
            used = cpu_seconds([pid]) - cpu[name]
            rates[f"{name}_ms"].append(used / refresh.requests * 1000)
    return rates


async def signed_in_over_http(base: str, var_dir: Path, sessions: int, *, first: int) -> list[str]:
    async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
        return await signed_in(client, var_dir, sessions, first=first)


def refresh_through_gateway(args: argparse.Namespace) -> None:
    from onevisit_dev.platform import PlatformConfig, running_platform

    if not ensure_tools():
        print("(d) skipped: wrk is not installed")
        return
    with tempfile.TemporaryDirectory(prefix="onevisit-bench-identity-") as tmp:
        directory = Path(tmp)
        config = PlatformConfig.on_free_ports(directory)
        config.log_level = "WARNING"
        config.extra_env["GATEWAY_ROUTES_FILE"] = str(routes_without_address_limits(directory))
        scratch = None
        if args.postgres:
            scratch = f"ov_bench_identity_{secrets.token_hex(4)}"
            asyncio.run(postgres_database(args.postgres, create=scratch))
            config.database_urls["identity"] = (
                make_url(args.postgres).set(database=scratch).render_as_string(hide_password=False)
            )
        try:
            print("(d) starting the platform on free ports ...")
            with running_platform(config) as platform:
                pids = {name: platform.pid_of(name) for name in ("gateway", "identity")}
                rates = over_http(config.gateway_url, directory, args, pids)
        finally:
            if args.postgres and scratch:
                asyncio.run(postgres_database(args.postgres, drop=scratch))
    jwks = statistics.median(rates["jwks"])
    refresh = statistics.median(rates["refresh"])
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"(d) refresh-token grants through the gateway, real processes ({backend} for "
        f"identity-svc, {args.sessions} sessions at once; per second, median of rounds)"
    )
    print(f"    GET jwks.json (baseline)           {jwks:8.0f}")
    print(f"    grant_type=refresh_token           {refresh:8.0f}   ×{refresh / jwks:.3f} jwks")
    print(
        f"    CPU per grant: gateway {statistics.median(rates['gateway_ms']):.2f} ms, "
        f"identity-svc {statistics.median(rates['identity_ms']):.2f} ms"
    )
    print(f"    target ≥ 500/s: ×{refresh / 500:.2f} of it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each part")
    parser.add_argument("--first-tokens", type=int, default=5000, help="distinct tokens per round")
    parser.add_argument("--cached-calls", type=int, default=200_000, help="cached calls per round")
    parser.add_argument("--logins", type=int, default=10, help="argon2 verifications timed")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of a refresh round")
    parser.add_argument("--sessions", type=int, default=4, help="sessions refreshed at once")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("ONEVISIT_TEST_POSTGRES_URL"),
        help="run (c) and (d) on a scratch database of this PostgreSQL server instead of SQLite "
        "(default: ONEVISIT_TEST_POSTGRES_URL when set)",
    )
    parser.add_argument(
        "--only",
        choices=["verify", "argon2", "refresh", "gateway"],
        help="one part only",
    )
    args = parser.parse_args()
    if args.only in (None, "verify"):
        asyncio.run(verification(args))
    if args.only in (None, "argon2"):
        argon2_cost(args)
    if args.only in (None, "refresh"):
        asyncio.run(refresh_rate(args))
    if args.only in (None, "gateway"):
        refresh_through_gateway(args)


if __name__ == "__main__":
    main()
