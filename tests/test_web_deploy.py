"""`partnerdx serve` behind a TLS proxy (issue 15): links from the configured public URL (never the
request's Host), Secure cookies and HSTS; proxy headers trusted only when asked for; several
workers; and no IP address in anything the server logs."""
from __future__ import annotations

import re

import pytest

from web_support import DB_KINDS, PASSWORD, Person, Server, database_url, db_url  # noqa: F401

PUBLIC = "https://partnerdx.example.org"


@pytest.fixture
def tls_app(db_url, kb):
    from partnerdx.web import store
    from partnerdx.web.app import create_app
    from partnerdx.web.db import open_database
    from web_support import _hash
    db = open_database(db_url)
    store.add_user(db, "alice", _hash())
    app = create_app(kb=kb, database=db, public_url=PUBLIC + "/")
    yield app
    db.dispose()


def set_cookies(response) -> list[str]:
    return [h for r in [*response.history, response] for h in r.headers.get_list("set-cookie")]


def test_behind_a_tls_proxy_links_use_the_public_url_and_cookies_are_secure(tls_app):
    from starlette.testclient import TestClient
    f = Person(tls_app)
    f.client = TestClient(tls_app, base_url="https://evil.example", follow_redirects=True)  # a forged Host
    first = f.get("/login")
    signed = f.post("/login", {"name": "alice", "password": PASSWORD, "next": "/"})
    cookies = set_cookies(first) + set_cookies(signed)
    assert {c.split("=", 1)[0] for c in cookies} >= {"pdx_csrf", "pdx_session", "pdx_fac", "pdx_device"}
    assert all("Secure" in c and "HttpOnly" in c for c in cookies), cookies
    aid, links = f.create("Northshire", ["Borough Council"])
    page = f.get(f"/assessments/{aid}").text
    urls = re.findall(r'class="link-url" readonly value="([^"]+)"', page)
    assert urls and all(u.startswith(PUBLIC + "/r/") for u in urls) and "evil.example" not in page
    token = TestClient(tls_app).post("/api/v1/auth/token", json={"name": "alice", "password": PASSWORD}).json()["token"]
    api = f.client.get(f"/api/v1/assessments/{aid}", headers={"Authorization": f"Bearer {token}"}).json()
    assert api["rounds"][0]["links"][0]["url"].startswith(PUBLIC + "/r/")
    r = Person(tls_app)
    started = r.start(links["Borough Council"])
    assert all("Secure" in c for c in set_cookies(started))
    for response in (first, signed, started):
        assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_without_a_public_url_there_is_no_hsts_and_a_bad_url_is_refused(db_url, kb, tmp_path):
    from web_support import make_app
    from conftest import cli
    app = make_app(db_url, kb)
    try:
        r = Person(app).get("/login")
        assert "strict-transport-security" not in r.headers and "Secure" not in r.headers["set-cookie"]
    finally:
        app.state.ctx.db.dispose()
    run = cli("serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--public-url", "partnerdx.example.org", code=2)
    assert "--public-url" in run.err and "https://partnerdx.example.org" in run.err


@pytest.fixture(params=DB_KINDS)
def proxied(request, tmp_path):
    """Two workers behind a (simulated) TLS proxy on 127.0.0.1 that sets X-Forwarded-*."""
    with database_url(request.param, tmp_path) as url:
        srv = Server(url, tmp_path, args=("--workers", "2", "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1",
                                          "--public-url", PUBLIC))
        srv.add_user()
        with srv:
            yield srv


def test_two_workers_behind_a_proxy_trust_its_headers_and_log_no_address(proxied):
    import httpx
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.77"}
    with httpx.Client(base_url=proxied.base, timeout=30, headers=forwarded) as c:
        page = c.get("/login")
        assert page.status_code == 200 and "Secure" in page.headers["set-cookie"]
        assert page.headers["strict-transport-security"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        for n in range(6):                                          # some failures, some refused: all logged?
            c.post("/login", data={"csrf": csrf, "name": f"nobody{n}", "password": "wrong"})
        c.get("/r/%00")
        c.get("/assessments/99999999999999999999999")
        token = c.post("/api/v1/auth/token", json={"name": "alice", "password": PASSWORD}).json()["token"]
        made = c.post("/api/v1/assessments", headers={"Authorization": f"Bearer {token}"},
                      json={"partnership": "Proxied", "organisations": ["Borough Council"]}).json()
        assert made["rounds"][0]["links"][0]["url"].startswith(PUBLIC + "/r/")
    proxied.stop()
    log = proxied.log.read_text()
    assert "2 workers" in log
    assert "203.0.113.77" not in log
    assert not re.search(r"\d+\.\d+\.\d+\.\d+:\d+ - \"", log), log          # no access-log line
    assert not re.search(r"(GET|POST) /", log), log
