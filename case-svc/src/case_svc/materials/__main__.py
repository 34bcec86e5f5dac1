"""The housekeeping of the material store from the command line, with the service's settings
(``CASE_*``: its database, its store, its sealing keys):

    python -m case_svc.materials sweep [--dry-run]   # remove what no material refers to
    python -m case_svc.materials rewrap              # every content under CASE_SEALING_KEY_ID

``sweep`` removes the objects no material refers to, written more than
``CASE_MATERIALS_SWEEP_GRACE_MINUTES`` ago (60 unless set), and lists the materials whose
content is missing (``missing <material id> <case number>``), exiting 1 if there are any: their
rows are kept, for someone to look into. ``rewrap`` wraps every content's data key under the
current sealing key, exiting 1 if a content opens under no key of the keyring. Each is safe to
run twice, or on two machines at once, and beside the running service.

Why a command and not a task of the service's: both walk the whole store and every material,
work for one process of the platform, not for each replica; a scheduler (a cron job, a
Kubernetes CronJob) runs the sweep, an operator the rewrap after a key rotation.
"""

import argparse
import asyncio
import sys
from collections.abc import Sequence

from case_svc.materials.housekeeping import RewrapReport, SweepReport, rewrap_store, sweep
from case_svc.materials.storage import open_object_store
from case_svc.settings import CaseSettings
from servicekit.db import Database, utcnow


async def run_sweep(settings: CaseSettings, *, dry_run: bool = False) -> SweepReport:
    database = Database(settings.database_url)
    try:
        async with open_object_store(settings) as store, database.sessionmaker() as session:
            return await sweep(
                session,
                store,
                now=utcnow(),
                grace=settings.materials_sweep_grace,
                dry_run=dry_run,
            )
    finally:
        await database.dispose()


async def run_rewrap(settings: CaseSettings) -> RewrapReport:
    async with open_object_store(settings) as store:
        return await rewrap_store(store, settings.sealing_keyring(), domain=settings.sealing_domain)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m case_svc.materials",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    swept = commands.add_parser("sweep", help="remove the objects no material refers to")
    swept.add_argument(
        "--dry-run", action="store_true", help="tell what would be removed, remove nothing"
    )
    commands.add_parser("rewrap", help="wrap every content under the current sealing key")
    arguments = parser.parse_args(argv)
    settings = CaseSettings()
    if arguments.command == "sweep":
        report = asyncio.run(run_sweep(settings, dry_run=arguments.dry_run))
        verb = "would remove" if arguments.dry_run else "removed"
        for key in report.removed:
            print(f"{verb} {key}")
        for lost in report.missing:
            print(f"missing {lost.material_id} {lost.case_no}")
        print(
            f"{len(report.removed)} object(s) no material refers to {verb}, {report.young} "
            f"left within the grace period, {report.leftovers} interrupted write(s) removed, "
            f"{report.foreign} not case-svc's left alone; {len(report.missing)} material(s) "
            "missing their content"
        )
        return 1 if report.missing else 0
    rewrapped = asyncio.run(run_rewrap(settings))
    for key in rewrapped.unopenable:
        print(f"unopenable {key}")
    print(
        f"{rewrapped.rewrapped} content(s) wrapped under {settings.sealing_key_id!r}, "
        f"{rewrapped.current} were already; {len(rewrapped.unopenable)} open under no key, "
        f"{rewrapped.foreign} not case-svc's left alone"
    )
    return 1 if rewrapped.unopenable else 0


if __name__ == "__main__":
    sys.exit(main())
