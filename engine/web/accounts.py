"""`partnerdx user add`: facilitator accounts, checked and hashed before they reach the database."""
from __future__ import annotations

from ..errors import InputError, Problem
from . import auth, store
from .db import open_database


def add_account(db_url: str | None, name: str, password: str, reset: bool = False) -> str:
    """Create (or with reset, re-password) an account; InputError with a clear message otherwise."""
    problems = []
    error = auth.check_name(name)
    if error:
        problems.append(Problem("<command line>", None, name, error))
    error = auth.check_new_password(password)
    if error:
        problems.append(Problem("<password>", None, name if not problems else None, error))
    if problems:
        raise InputError(problems)
    db = open_database(db_url)
    try:
        exists = store.find_user(db, name) is not None
        if exists and not reset:
            raise InputError([Problem("<command line>", None, name, "this account exists already; use --reset to "
                                      "give it a new password")])
        if reset and not exists:
            raise InputError([Problem("<command line>", None, name, "no such account to reset; leave out --reset "
                                      "to create it")])
        store.add_user(db, name, auth.hash_password(password), replace=reset)
    finally:
        db.dispose()
    return f"{'password changed for' if reset else 'created'} facilitator account {name}"
