"""Facilitators' passwords, sign-in throttling, sessions and CSRF tokens.

- Passwords: argon2id (argon2-cffi's defaults, the RFC 9106 low-memory profile), rehashed on sign-in
  when the parameters change. An unknown account name costs the same verification as a known one.
- Throttling (throttle.py): per account name (known or not) and per client, counted atomically in
  the database before the password is checked. The first FREE_FAILURES wrong passwords of an
  account cost nothing; after that each attempt must wait twice as long as the last (2 s, 4 s, 8 s
  … 15 min), and an attempt inside the wait is refused *without checking the password*. A success
  clears the account's count. The clock is injected, so tests measure the wait without sleeping.
- Memory: an argon2 verification takes 64 MiB; at most MAX_HASHES run at once per process (a
  semaphore), so a flood of sign-ins queues instead of exhausting memory.
- CSRF: every form carries HMAC(server secret, the visitor's `pdx_csrf` cookie). A page from
  another site can neither read that cookie nor compute the HMAC, so its forged POST is refused.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
from dataclasses import dataclass
from functools import lru_cache

from . import store, throttle
from .db import Database

FREE_FAILURES = 3                 # per account name (or per device cookie of that account)
CLIENT_FREE_FAILURES = 10         # per client address: offices share one behind NAT
MAX_PASSWORD = 1000
MAX_HASHES = int(os.environ.get("PARTNERDX_MAX_HASHES", "2"))   # concurrent argon2 hashes per process
MAX_WAITING = 8                   # attempts queued for a slot; more are refused at once (503)
HASH_QUEUE_SECONDS = 10.0         # an attempt waiting longer for a hashing slot gets a 503
HASHING = threading.BoundedSemaphore(MAX_HASHES)
_QUEUE = threading.Lock()
_waiting = 0                      # attempts holding or waiting for a slot, in this process
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
    if len(password) > MAX_PASSWORD:
        return f"a password has at most {MAX_PASSWORD} characters"
    return None


def delay_for(failures: int) -> float:
    """Seconds to wait after this many consecutive failures of one account."""
    return throttle.account("", FREE_FAILURES).delay(failures)


@dataclass
class SignIn:
    user: dict | None
    retry_after: int = 0              # > 0: refused because of earlier failures, wait this long
    refused_for: str = ""             # account | device | client: whose failures caused the wait
    device: str | None = None         # on success: the device cookie for this browser (see throttle.py)

    @property
    def ok(self) -> bool:
        return self.user is not None


class Busy(Exception):
    """Too many sign-ins are being checked at once: try again in a moment (503)."""


def _hashing(work):
    """Run one argon2 computation under the per-process semaphore (memory stays flat under a flood).

    At most MAX_WAITING attempts queue for a slot; any more are refused at once (503 with
    Retry-After) rather than holding the server's worker threads, which every other request needs."""
    global _waiting
    with _QUEUE:
        if _waiting >= MAX_HASHES + MAX_WAITING:
            raise Busy()
        _waiting += 1
    try:
        if not HASHING.acquire(timeout=HASH_QUEUE_SECONDS):
            raise Busy()
        try:
            return work()
        finally:
            HASHING.release()
    finally:
        with _QUEUE:
            _waiting -= 1


def device_cookie(secret: str, name: str, nonce: str | None = None) -> str:
    """A cookie proving that this browser signed in to this account before."""
    nonce = nonce or secrets.token_urlsafe(18)
    mac = hmac.new(secret.encode(), f"device|{name.strip().casefold()}|{nonce}".encode(), hashlib.sha256)
    return f"{nonce}.{mac.hexdigest()[:32]}"


def _device_ok(secret: str, name: str, cookie: str | None) -> bool:
    if not secret or not cookie or len(cookie) > 100 or "." not in cookie:
        return False
    nonce = cookie.split(".", 1)[0]
    return hmac.compare_digest(device_cookie(secret, name, nonce), cookie)


def sign_in(db: Database, name: str, password: str, now: float, client: str | None = None,
            device: str | None = None, secret: str = "") -> SignIn:
    """Check a password under the throttle (throttle.py): the attempt is counted against the account
    (or this browser's device cookie for it) and the client *before* the password is checked."""
    name = name.strip()
    own_device = _device_ok(secret, name, device)
    first = throttle.device(device, FREE_FAILURES) if own_device else throttle.account(name, FREE_FAILURES)
    buckets = [first] + ([throttle.client(client, secret, CLIENT_FREE_FAILURES)] if client else [])
    refused = throttle.reserve(db, buckets, now)
    if refused:
        return SignIn(None, refused.retry_after, refused.kind)
    valid = check_name(name) is None and len(password) <= MAX_PASSWORD
    user = store.find_user(db, name) if valid else None
    if not _hashing(lambda: verify_password(user["password_hash"] if user else None, password)) or not valid:
        return SignIn(None)
    throttle.succeeded(db, [first, throttle.account(name, FREE_FAILURES)], buckets[1:], now)
    if _hasher().check_needs_rehash(user["password_hash"]):
        store.set_password_hash(db, user["id"], _hashing(lambda: hash_password(password)))
    return SignIn({"id": user["id"], "name": user["name"]},
                  device=device if own_device else device_cookie(secret, name) if secret else None)


def csrf_token(secret: str, cookie: str) -> str:
    return hmac.new(secret.encode(), b"csrf|" + cookie.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, cookie: str | None, submitted: str | None) -> bool:
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(csrf_token(secret, cookie), submitted)
