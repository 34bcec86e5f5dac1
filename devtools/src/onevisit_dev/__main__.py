"""``python -m onevisit_dev``: migrate, seed and start the seven processes (and, with
``--wenzhou``, a case-svc of Wenzhou's own); Ctrl-C stops them all. Being the developer's
platform, it seeds the demo staff too (``identity_svc.demo_staff``, listed in the README)."""

import argparse
import signal
import sys
import time
from pathlib import Path

from onevisit_dev.platform import (
    REPO_ROOT,
    WENZHOU_CASE,
    PlatformConfig,
    PlatformError,
    running_platform,
)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m onevisit_dev", description=__doc__)
    parser.add_argument("--var-dir", type=Path, default=REPO_ROOT / "var")
    parser.add_argument(
        "--wenzhou",
        action="store_true",
        help=(
            f"also run case-svc for Wenzhou ({WENZHOU_CASE.region}) on port "
            f"{WENZHOU_CASE.default_port} with its own database; the gateway routes Wenzhou's "
            "cases there"
        ),
    )
    args = parser.parse_args()
    regional = (WENZHOU_CASE,) if args.wenzhou else ()
    config = PlatformConfig.defaults(args.var_dir.resolve(), regional=regional)
    # Here, not in PlatformConfig: the end-to-end tests and benchmarks make the staff they need.
    config.extra_env["IDENTITY_SEED_DEMO_STAFF"] = "true"
    stop_requested = False

    def request_stop(_signal: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    def interrupt_start(_signal: int, _frame: object) -> None:
        # While the processes start, a stop (Ctrl-C, or SIGTERM from a supervisor) interrupts
        # the start as Ctrl-C does, so that running_platform stops what it already started.
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt_start)
    signal.signal(signal.SIGTERM, interrupt_start)
    databases = len(config.ports) - 2  # every process but the gateway and the pages has one
    print(
        f"Migrating and seeding the {databases} databases (the first run loads the region tree)..."
    )
    try:
        with running_platform(config) as platform:
            gateway = config.gateway_url
            print(
                f"\nOneVisit is running.\n  gateway:   {gateway}\n  docs:      {gateway}/docs\n"
                f"  app:       {gateway}/app/   (the citizen's: a phone's screen, 长辈版 inside)\n"
                f"  workbench: {gateway}/workbench/   (staff)"
            )
            for name, port in sorted(config.ports.items(), key=lambda item: item[1]):
                print(f"  {name:<12} http://127.0.0.1:{port}   log: {platform.log_of(name)}")
            print('  demo staff sign-ins: README.md, "Demo staff"')
            print("Press Ctrl-C to stop them all.", flush=True)
            # Handled explicitly: a shell may have started this process with SIGINT ignored.
            # The handler only records the request: it runs between two bytecodes of whatever
            # the main thread is doing, and taking a lock there (threading.Event.set) deadlocks
            # when the thread already holds it (a second signal during the first's set()).
            signal.signal(signal.SIGINT, request_stop)
            signal.signal(signal.SIGTERM, request_stop)
            while not stop_requested:
                time.sleep(0.2)
                platform.check_alive()
            print("\nStopping...", flush=True)
    except PlatformError as exc:
        print(f"OneVisit could not start:\n{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
