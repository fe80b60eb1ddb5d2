"""Sign-in throttling that holds under parallel attack: counted in the database, reserved before
the password is checked, and per account *and* per client.

Why "reserve first": checking the count, then the password, then recording the failure lets 100
parallel guesses all read "no failures yet" and all be checked. Here one transaction locks the
throttle rows (PostgreSQL: `SELECT … FOR UPDATE`, rows locked in key order so two attempts cannot
deadlock; SQLite: every transaction begins IMMEDIATE, one writer at a time), refuses if a wait is
running, and otherwise counts the attempt as a failure *before* the password is checked. A right
password then takes the reservation back. So however many attempts race, at most the free ones
plus one per wait are ever checked, across threads, workers and servers sharing the database.

Buckets (rows of pdx_login_throttle, keyed by a hash, so no account name a guesser typed and no
address is stored in clear):

- the account name (known or not: unknown names cost the same; a guesser cannot tell them apart);
- the client: a keyed hash (HMAC with the server's secret) of the connecting address, so spraying
  random names from one place is slowed too. Behind a proxy the address is the proxy's unless
  `serve --proxy-headers` trusts its X-Forwarded-For; the row is forgotten a day after the last
  failure;
- the *device* instead of the account, when the browser shows a device cookie that an earlier
  successful sign-in to this account gave it (OWASP's "device cookies"): the owner's own browser is
  then not kept waiting by someone else's failures on their account name.
"""
from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from .db import Database, throttle

FORGET_AFTER = 86400.0            # a bucket's failures are forgotten a day after its last one
MAX_DELAY = 900.0                 # 15 minutes


@dataclass(frozen=True)
class Bucket:
    key: str                      # at most 64 characters
    free: int                     # failures that cost no wait
    kind: str                     # account | device | client: what a refusal says

    def delay(self, failures: int) -> float:
        """Seconds to wait after this many consecutive failures: 2 s, 4 s, 8 s … 15 min."""
        if failures <= self.free:
            return 0.0
        return min(2.0 ** (failures - self.free), MAX_DELAY)


def _hex(*parts: str, secret: str = "") -> str:
    data = "|".join(parts).encode()
    return (hmac.new(secret.encode(), data, hashlib.sha256) if secret else hashlib.sha256(data)).hexdigest()[:62]


def account(name: str, free: int) -> Bucket:
    return Bucket("a:" + _hex("account", name.strip().casefold()), free, "account")


def client(address: str, secret: str, free: int) -> Bucket:
    return Bucket("c:" + _hex("client", address, secret=secret), free, "client")


def device(cookie: str, free: int) -> Bucket:
    return Bucket("d:" + _hex("device", cookie), free, "device")


def legacy_key(name: str) -> str:
    """How account rows are keyed (for deleting one when a password is reset)."""
    return account(name, 0).key


@dataclass
class Refused:
    retry_after: int
    kind: str


def _insert_missing(db: Database, conn, keys: list[str], now: float) -> None:
    rows = [{"name": k, "failures": 0, "not_before": 0.0, "last": now} for k in keys]
    make = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
    conn.execute(make(throttle).values(rows).on_conflict_do_nothing(index_elements=["name"]))


def reserve(db: Database, buckets: list[Bucket], now: float) -> Refused | None:
    """Count one attempt against every bucket, atomically; or say how long to wait (counting nothing)."""
    order = sorted(buckets, key=lambda b: b.key)
    keys = [b.key for b in order]
    with db.tx() as conn:
        _insert_missing(db, conn, keys, now)
        found = {r.name: r for r in conn.execute(select(throttle).where(throttle.c.name.in_(keys))
                                                 .order_by(throttle.c.name).with_for_update())}
        waits = []
        for b in order:
            row = found[b.key]
            stale = row.last < now - FORGET_AFTER
            if not stale and now < row.not_before:
                waits.append(Refused(math.ceil(row.not_before - now), b.kind))
        if waits:
            return max(waits, key=lambda w: w.retry_after)
        for b in order:
            row = found[b.key]
            failures = (0 if row.last < now - FORGET_AFTER else row.failures) + 1
            conn.execute(update(throttle).where(throttle.c.name == b.key)
                         .values(failures=failures, not_before=now + b.delay(failures), last=now))
    return None


def succeeded(db: Database, cleared: list[Bucket], returned: list[Bucket], now: float) -> None:
    """A right password: `cleared` buckets start again from zero; `returned` ones get the reserved
    attempt back (the client's: its other failures still count)."""
    with db.tx() as conn:
        if cleared:
            conn.execute(throttle.delete().where(throttle.c.name.in_([b.key for b in cleared])))
        for b in sorted(returned, key=lambda b: b.key):
            row = conn.execute(select(throttle.c.failures).where(throttle.c.name == b.key).with_for_update()).first()
            if row is not None:
                failures = max(row[0] - 1, 0)
                conn.execute(update(throttle).where(throttle.c.name == b.key)
                             .values(failures=failures, not_before=now + b.delay(failures)))
    with db.tx() as conn:                 # apart, so that it never holds a lock an attempt is waiting for
        conn.execute(throttle.delete().where(throttle.c.last < now - FORGET_AFTER))
