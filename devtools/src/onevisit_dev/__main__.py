"""``python -m onevisit_dev``: migrate, seed and start the six processes; Ctrl-C stops them all."""

import argparse
import signal
import sys
import threading
from pathlib import Path

from onevisit_dev.platform import REPO_ROOT, PlatformConfig, PlatformError, running_platform


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m onevisit_dev", description=__doc__)
    parser.add_argument("--var-dir", type=Path, default=REPO_ROOT / "var")
    args = parser.parse_args()
    config = PlatformConfig.defaults(args.var_dir.resolve())
    stop = threading.Event()
    print("Migrating and seeding the five databases (the first run loads the region tree)...")
    try:
        with running_platform(config) as platform:
            gateway = config.gateway_url
            print(f"\nOneVisit is running.\n  gateway: {gateway}\n  docs:    {gateway}/docs")
            for name, port in sorted(config.ports.items(), key=lambda item: item[1]):
                print(f"  {name:<9} http://127.0.0.1:{port}   log: {platform.log_of(name)}")
            print("Press Ctrl-C to stop them all.")
            # Handled explicitly: a shell may have started this process with SIGINT ignored.
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            while not stop.wait(1.0):
                platform.check_alive()
            print("\nStopping...")
    except PlatformError as exc:
        print(f"OneVisit could not start:\n{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
