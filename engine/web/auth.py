"""Facilitators' passwords, sign-in throttling, sessions and CSRF tokens.

- Passwords: argon2id (argon2-cffi's defaults, the RFC 9106 low-memory profile), rehashed on sign-in
  when the parameters change. An unknown account name costs the same verification as a known one.
- Throttling: per account name, never per IP address (we store none). The first FREE_FAILURES
  wrong passwords cost nothing; after that each attempt must wait twice as long as the last
  (2 s, 4 s, 8 s … capped at MAX_DELAY), and an attempt inside the wait is refused *without
  checking the password*, so guessing is slowed whatever the guesser's address. A success clears
  the count. The clock is injected, so tests measure the wait without sleeping.
- CSRF: every form carries HMAC(server secret, the visitor's `pdx_csrf` cookie). A page from
  another site can neither read that cookie nor compute the HMAC, so its forged POST is refused.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from . import store
from .db import Database

FREE_FAILURES = 3
MAX_DELAY = 900.0                 # 15 minutes
FORGET_AFTER = 86400.0            # a name's failures are forgotten a day after the last one
SESSION_HOURS = 12
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 10


@lru_cache(maxsize=1)
def _hasher():
    from argon2 import PasswordHasher
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_password(stored: str | None, password: str) -> bool:
    """True if it matches; an absent account is checked against a dummy hash (same cost)."""
    from argon2.exceptions import InvalidHashError, VerificationError
    try:
        return _hasher().verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def check_name(name: str) -> str | None:
    if not NAME.match(name):
        return "an account name is 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
    return None


def check_new_password(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"a password needs at least {MIN_PASSWORD} characters"
    if password != password.strip():
        return "a password cannot start or end with a space"
    return None


def delay_for(failures: int) -> float:
    """Seconds to wait after this many consecutive failures."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(2.0 ** (failures - FREE_FAILURES), MAX_DELAY)


@dataclass
class SignIn:
    user: dict | None
    retry_after: int = 0              # > 0: refused because of earlier failures, wait this long

    @property
    def ok(self) -> bool:
        return self.user is not None


def sign_in(db: Database, name: str, password: str, now: float) -> SignIn:
    """Check a password under the throttle; the outcome is recorded for the account name."""
    key = name.strip().casefold()[:64]
    _, not_before = store.throttle_state(db, key)
    if now < not_before:
        return SignIn(None, math.ceil(not_before - now))
    user = store.find_user(db, name.strip())
    if verify_password(user["password_hash"] if user else None, password):
        store.clear_failures(db, key)
        if _hasher().check_needs_rehash(user["password_hash"]):
            store.set_password_hash(db, user["id"], hash_password(password))
        return SignIn({"id": user["id"], "name": user["name"]})
    store.record_failure(db, key, now, delay_for, FORGET_AFTER)
    return SignIn(None)


def csrf_token(secret: str, cookie: str) -> str:
    return hmac.new(secret.encode(), b"csrf|" + cookie.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, cookie: str | None, submitted: str | None) -> bool:
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(csrf_token(secret, cookie), submitted)
