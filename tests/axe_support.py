"""axe-core for the accessibility tests: from the npm registry with npm's own client (`npm pack`),
never from anywhere else on the internet, cached between runs; and a page checker.

Where it comes from, in order: PARTNERDX_AXE_JS (a path to axe.min.js, e.g. vendored by hand), the
cache (~/.cache/partnerdx-tests/axe-core-VERSION/axe.min.js), `npm pack axe-core@VERSION`. Without
npm or the registry the tests are skipped with the reason, except where CI is set (they fail there).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

AXE_VERSION = "4.14.1"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "partnerdx-tests" / f"axe-core-{AXE_VERSION}"


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the accessibility tests: {reason}")
    pytest.skip(reason)


def axe_js() -> Path:
    """The path of axe.min.js (see the module docstring)."""
    given = os.environ.get("PARTNERDX_AXE_JS")
    if given:
        return Path(given)
    target = CACHE / "axe.min.js"
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is absent: axe-core comes from the npm registry (`npm pack axe-core`)")
    with tempfile.TemporaryDirectory() as tmp:
        run = subprocess.run([npm, "pack", f"axe-core@{AXE_VERSION}", "--silent", "--pack-destination", tmp],
                             capture_output=True, text=True, timeout=300)
        packs = list(Path(tmp).glob("axe-core-*.tgz"))
        if run.returncode != 0 or not packs:
            _unavailable(f"npm pack axe-core@{AXE_VERSION} failed: {run.stderr.strip()[:300]}")
        with tarfile.open(packs[0]) as tar:
            member = tar.extractfile("package/axe.min.js")
            assert member is not None
            data = member.read()
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".tmp")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def violations(page) -> list[dict]:
    """axe-core's violations on the page as it stands (every rule axe runs by default)."""
    page.add_script_tag(path=str(axe_js()))
    found = page.evaluate("async () => (await axe.run(document)).violations.map(v => ({id: v.id, impact: v.impact,"
                          " help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.html.slice(0, 200))}))")
    return found


def describe(found: list[dict]) -> str:
    return "\n".join(f"{v['impact']} {v['id']}: {v['help']} — {v['nodes']}" for v in found)
