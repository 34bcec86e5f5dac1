"""Passwords and client secrets: argon2id hashing off the event loop, and the password policy.

Unknown logins are checked against a dummy hash made with the same parameters, so that the time
an answer takes does not tell whether the phone number is registered.
"""

import asyncio
import secrets
from typing import Literal

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from servicekit.problems import DomainError, extension_members

MIN_LENGTH = 8

# The most common choices in published leak statistics, Chinese users' favourites among them;
# a short list on purpose: it stops the guesses tried first, not every weak password.
COMMON_PASSWORDS = frozenset(
    {
        "12345678",
        "123456789",
        "1234567890",
        "0123456789",
        "87654321",
        "987654321",
        "11111111",
        "00000000",
        "88888888",
        "66666666",
        "12341234",
        "11223344",
        "123123123",
        "5201314520",
        "woaini1314",
        "woaini520",
        "password",
        "password1",
        "password123",
        "passw0rd",
        "p@ssw0rd",
        "qwertyui",
        "qwerty123",
        "qwe123456",
        "1qaz2wsx",
        "1q2w3e4r",
        "zaq12wsx",
        "asdfghjk",
        "a1234567",
        "a12345678",
        "aa123456",
        "abc12345",
        "abcd1234",
        "abc123456",
        "qq123456",
        "iloveyou",
        "admin123",
        "sunshine",
        "princess",
        "football",
    }
)

PolicyReason = Literal["too_short", "contains_phone", "too_common"]


class WeakPassword(DomainError):
    status = 422
    code = "weak_password"
    title = "The password does not meet the policy"
    members = extension_members(
        reason={
            "type": "string",
            "description": "The first rule the password breaks",
            "examples": ["too_short"],
        },
        min_length={
            "type": "integer",
            "description": "The shortest password accepted",
            "examples": [10],
        },
    )


def check_password_policy(password: str, *, phone: str) -> None:
    reason: PolicyReason | None = None
    if len(password) < MIN_LENGTH:
        reason = "too_short"
    elif phone in password:
        reason = "contains_phone"
    elif password.casefold() in COMMON_PASSWORDS:
        reason = "too_common"
    if reason is not None:
        raise WeakPassword(_EXPLANATIONS[reason], reason=reason, min_length=MIN_LENGTH)


_EXPLANATIONS: dict[PolicyReason, str] = {
    "too_short": f"use at least {MIN_LENGTH} characters",
    "contains_phone": "the password must not contain the phone number",
    "too_common": "this password is among the most common ones; choose another",
}


class Passwords:
    def __init__(
        self, *, time_cost: int, memory_kib: int, parallelism: int, concurrency: int = 4
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        # Each hash holds memory_kib of memory: a burst of logins must queue, not exhaust it.
        self._slots = asyncio.Semaphore(concurrency)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(self._verify, password_hash, password)

    async def verify_nobody(self, password: str) -> None:
        """Spend the time a real check would, for a login that names nobody."""
        await self.verify(self._dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
