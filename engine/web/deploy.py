"""How `partnerdx serve` runs: one or several uvicorn workers, behind a TLS proxy or not.

Why these choices:

- **Public URL.** Behind a proxy the request's Host and scheme are whatever the client or proxy
  sent; invitation links built from them could point anywhere and be `http://`. With
  `--public-url https://…` every link is built from that URL, every cookie is `Secure` and every
  response carries HSTS.
- **Proxy headers.** uvicorn trusts X-Forwarded-For/-Proto from 127.0.0.1 by default; we trust
  none unless `--proxy-headers` is given, and then only from `--forwarded-allow-ips`. The real
  client address matters only for the per-client sign-in throttle (kept as a keyed hash).
- **No access log.** uvicorn's access log records every client address; it is off, in every
  worker, and nothing else we log names an address.
- **Several workers** need uvicorn to import the app in each process: `app_from_environment`
  builds it from PARTNERDX_* variables that `run` sets, so every worker has the same settings.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import InputError, Problem

ENV_DB, ENV_PUBLIC, ENV_OVERLAYS = "PARTNERDX_DB", "PARTNERDX_PUBLIC_URL", "PARTNERDX_OVERLAYS"


@dataclass
class Options:
    db_url: str | None
    host: str = "127.0.0.1"
    port: int = 8000
    overlays: tuple = ()
    workers: int = 1
    proxy_headers: bool = False
    forwarded_allow_ips: str = "127.0.0.1"
    public_url: str | None = None


def check_public_url(url: str | None) -> str | None:
    """The public base URL without a trailing slash; InputError if it is not http(s)://host[/path]."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InputError([Problem("--public-url", None, url, "give the address people use, e.g. "
                                  "https://partnerdx.example.org (scheme and host, optionally a path)")])
    return url.rstrip("/")


def app_from_environment():
    """The app for one worker process (uvicorn factory), from the variables `run` set."""
    from .app import create_app
    overlays = tuple(p for p in os.environ.get(ENV_OVERLAYS, "").split(os.pathsep) if p)
    return create_app(os.environ.get(ENV_DB) or None, overlays=overlays,
                      public_url=os.environ.get(ENV_PUBLIC) or None)


def uvicorn_settings(opts: Options) -> dict:
    """What every worker runs with: never an access log, proxy headers only when asked for."""
    return {"host": opts.host, "port": opts.port, "access_log": False, "proxy_headers": opts.proxy_headers,
            "forwarded_allow_ips": opts.forwarded_allow_ips if opts.proxy_headers else "",
            "server_header": False, "date_header": False, "log_level": "warning"}


def run(opts: Options, log=print) -> None:
    """`partnerdx serve`."""
    import uvicorn

    from . import store
    from .app import create_app
    public = check_public_url(opts.public_url)
    app = create_app(opts.db_url, overlays=opts.overlays, public_url=public)   # upgrades the schema once
    db = app.state.ctx.db
    where = db.url.split("@")[-1] if "@" in db.url else db.url
    log(f"partnerdx: database {where} (schema version {db.version()})")
    if store.count_users(db) == 0:
        log("partnerdx: no facilitator account yet: create one with `partnerdx user add NAME`"
            + (" and the same --db" if opts.db_url else ""))
    shown = public or f"http://{opts.host}:{opts.port}"
    log(f"partnerdx: serving on http://{opts.host}:{opts.port}/ ({opts.workers} worker"
        f"{'s' if opts.workers > 1 else ''}; links use {shown}/; Ctrl-C to stop)")
    settings = uvicorn_settings(opts)
    if opts.workers <= 1:
        uvicorn.run(app, **settings)
        return
    db.dispose()
    os.environ[ENV_DB] = db.url
    os.environ[ENV_OVERLAYS] = os.pathsep.join(str(Path(p).resolve()) for p in opts.overlays)
    if public:
        os.environ[ENV_PUBLIC] = public
    else:
        os.environ.pop(ENV_PUBLIC, None)
    uvicorn.run("partnerdx.web.deploy:app_from_environment", factory=True, workers=opts.workers, **settings)
