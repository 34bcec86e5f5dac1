"""``python -m onevisit_dev.secrets``: write every secret docker-compose.yml runs the platform
with in production mode, fresh and random, to a file only its owner may read
(``deploy/secrets.env``; an existing file is kept unless ``--force``).

Which keys there are comes from the settings classes, not from a list kept here: every setting
whose default is a development key, or a keyring of them
(``ServiceSettings.development_key_fields``), of every container the compose file runs, so that
a key added to a service's settings is generated with no change here. Each container has keys of
its own (a regional instance too: its database is its own); only ``FORWARDED_KEY`` is one value
for all, as the gateway signs with it and every service checks. Besides the keys: a password for
each service's database role and one for the PostgreSQL superuser, the gateway's metrics token,
and the SMS gateway's address and key, which only its operator has: left empty, to be filled
in (compose refuses to start while they are).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import importlib
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from onevisit_dev.platform import GATEWAY, REPO_ROOT, SERVICES, WEB, WENZHOU_CASE, ServiceSpec
from servicekit.settings import ServiceSettings

SECRETS_FILE = REPO_ROOT / "deploy" / "secrets.env"
#: The compose service of the database, given every role's password to create the roles with.
POSTGRES = "postgres"
#: Development-key settings that hold one value for every container that has them (else each
#: container has its own), and the variable of the secrets file that holds it.
SHARED_KEYS = {"forwarded_key": "ONEVISIT_FORWARDED_KEY"}


@dataclass(frozen=True)
class Container:
    """A container of docker-compose.yml that runs one of the platform's processes."""

    name: str  # its compose service
    spec: ServiceSpec

    @property
    def variable_prefix(self) -> str:
        """How its own variables in the secrets file start: ``ONEVISIT_CASE_WENZHOU_``."""
        return "ONEVISIT_" + self.name.upper().replace("-", "_") + "_"


CONTAINERS: tuple[Container, ...] = (
    *(Container(spec.name, spec) for spec in SERVICES),
    Container(WENZHOU_CASE.name, WENZHOU_CASE.service),
    Container(WEB.name, WEB),
    Container(GATEWAY.name, GATEWAY),
)


@dataclass(frozen=True)
class Secret:
    """One variable of the secrets file."""

    variable: str
    value: str
    #: The compose services given it: no other may be.
    readers: tuple[str, ...]
    #: What its operator must put there, for one only its operator has (its value is empty).
    fill_in: str = ""


def settings_class(spec: ServiceSpec) -> type[ServiceSettings]:
    """The settings class a process reads its environment with: the one its package's
    ``settings`` module defines."""
    module = importlib.import_module(f"{spec.package}.settings")
    [found] = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value.__module__ == module.__name__
    ]
    return found


def new_key() -> str:
    """32 random bytes, base64: what a ``SecretKey`` setting takes."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def new_password() -> str:
    """URL-safe, so that it goes into a database URL, an env file and SQL as it is."""
    return secrets.token_urlsafe(32)


def container_keys(
    container: Container, settings: type[ServiceSettings], *, today: dt.date
) -> list[Secret]:
    """A container's own keys: each development-key setting of its class but the shared ones.
    A keyring gets one key, under the date as its id, and its id setting names it
    (``sealing_keys`` → ``sealing_key_id``)."""
    keys: list[Secret] = []
    readers = (container.name,)
    for name in settings.development_key_fields():
        if name in SHARED_KEYS:
            continue
        variable = container.variable_prefix + name.upper()
        default = settings.model_fields[name].get_default(call_default_factory=True)
        if not isinstance(default, dict):
            keys.append(Secret(variable, new_key(), readers))
            continue
        key_id_setting = name.removesuffix("s") + "_id"
        if key_id_setting not in settings.model_fields:
            raise LookupError(f"{settings.__name__}.{name} is a keyring without {key_id_setting}")
        key_id = today.isoformat()
        keyring = json.dumps({key_id: new_key()}, separators=(",", ":"))
        keys.append(Secret(variable, keyring, readers))
        keys.append(Secret(container.variable_prefix + key_id_setting.upper(), key_id, readers))
    return keys


def platform_secrets(today: dt.date | None = None) -> list[Secret]:
    """Every secret of the compose file, generated afresh."""
    today = today or dt.datetime.now(dt.UTC).date()
    classes = {container.name: settings_class(container.spec) for container in CONTAINERS}
    found: list[Secret] = []
    for name, variable in SHARED_KEYS.items():
        readers = tuple(
            container for container, cls in classes.items() if name in cls.development_key_fields()
        )
        found.append(Secret(variable, new_key(), readers))
    for container in CONTAINERS:
        found.extend(container_keys(container, classes[container.name], today=today))
        if container.spec.has_database:
            variable = container.variable_prefix + "DATABASE_PASSWORD"
            found.append(Secret(variable, new_password(), (container.name, POSTGRES)))
    found += [
        Secret("ONEVISIT_POSTGRES_PASSWORD", new_password(), (POSTGRES,)),
        Secret("ONEVISIT_METRICS_TOKEN", new_password(), (GATEWAY.name,)),
        # case-svc's own OAuth client (its certificate reads, its events): identity's seed
        # registers it with this secret, and every case-svc instance presents it.
        Secret(
            "ONEVISIT_CASE_CLIENT_SECRET",
            new_password(),
            ("identity", *(c.name for c in CONTAINERS if c.spec.name == "case")),
        ),
        # rating-svc's own OAuth client (its events), registered by identity's seed likewise.
        Secret("ONEVISIT_RATING_CLIENT_SECRET", new_password(), ("identity", "rating")),
        # data-exchange-svc's own OAuth client (its life events to the platform), likewise.
        Secret("ONEVISIT_EXCHANGE_CLIENT_SECRET", new_password(), ("identity", "exchange")),
        Secret(
            "ONEVISIT_SMS_ENDPOINT",
            "",
            ("identity",),
            fill_in="the URL of your SMS gateway (production refuses the development sink)",
        ),
        Secret("ONEVISIT_SMS_API_KEY", "", ("identity",), fill_in="the SMS gateway's API key"),
    ]
    return found


def render(found: Sequence[Secret], *, path: Path) -> str:
    """The secrets file: one ``NAME='value'`` a line, which compose's ``--env-file`` and a
    shell read alike (a base64 key, a URL-safe password, a keyring's JSON hold no quote)."""
    lines = [
        "# OneVisit's secrets for docker-compose.yml, made by python -m onevisit_dev.secrets.",
        f"#   docker compose --env-file {_shown(path)} up --build",
        "# Keep it secret (it is not committed) and keep a copy apart from the database's backups:",
        "# without these keys the data sealed with them can never be read again.",
    ]
    readers: tuple[str, ...] = ()
    for secret in found:
        if secret.readers != readers:
            readers = secret.readers
            lines += ["", "# given to: " + ", ".join(readers)]
        if secret.fill_in:
            lines.append(f"# fill in: {secret.fill_in}")
        if "'" in secret.value or "\n" in secret.value:
            raise ValueError(f"{secret.variable} cannot be written between single quotes")
        value = f"'{secret.value}'" if secret.value else ""
        lines.append(f"{secret.variable}={value}")
    return "\n".join(lines) + "\n"


def write_secrets(path: Path, *, force: bool = False) -> list[Secret]:
    """Write a fresh secrets file at ``path``, mode 0600. An existing one is kept
    (``FileExistsError``) unless ``force``: then replaced whole, in one rename."""
    found = platform_secrets()
    text = render(found, path=path).encode()
    if force:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            _write_private(descriptor, text)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    else:
        _write_private(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), text)
    return found


def _write_private(descriptor: int, text: bytes) -> None:
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(file.fileno(), 0o600)  # whatever the umask
        file.write(text)


def _shown(path: Path) -> Path:
    return path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m onevisit_dev.secrets", description=__doc__)
    parser.add_argument(
        "path", nargs="?", type=Path, default=SECRETS_FILE, help="default: deploy/secrets.env"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help=(
            "replace an existing file: every key anew, so only where no data was sealed with "
            "the old ones yet (a running deployment rotates its keys one by one instead)"
        ),
    )
    args = parser.parse_args(argv)
    path: Path = args.path.resolve()
    try:
        found = write_secrets(path, force=args.force)
    except FileExistsError:
        print(
            f"{_shown(path)} exists: kept (its keys may seal data already); --force replaces it",
            file=sys.stderr,
        )
        return 1
    print(f"Wrote {len(found)} secrets to {_shown(path)} (mode 0600).")
    for secret in found:
        if secret.fill_in:
            print(f"  fill in {secret.variable}: {secret.fill_in}")
    print(f"Then: docker compose --env-file {_shown(path)} up --build")
    return 0


if __name__ == "__main__":
    sys.exit(main())
