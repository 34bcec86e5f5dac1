"""``make bench``: every benchmark, one after the other, each reporting ratios against a
baseline measured in the same run (these machines are shared and noisy: absolute figures move,
same-run ratios hold). Each also runs alone: ``python -m bench.<name> --help``."""

import importlib
import sys

BENCHMARKS = (
    "gateway_read",
    "gateway_proxy",
    "exchange_ledger",
    "exchange_sealing",
    "catalog_search",
    "identity_tokens",
    "outbox",
    "life_event_fanout",
    "case_submissions",
    "prefill_latency",
    "case_queues",
    "material_sweep",
    "rating_statistics",
    "rating_acceptance",
)


def main() -> None:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    for name in chosen:
        print(f"\n=== bench.{name} ===", flush=True)
        module = importlib.import_module(f"bench.{name}")
        sys.argv = [f"bench.{name}"]
        module.main()


if __name__ == "__main__":
    main()
