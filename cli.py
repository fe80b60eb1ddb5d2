"""Run partnerdx from a source checkout: `python cli.py diagnose examples/pfi-hospital.yaml`.

The command line itself lives in `engine/cli.py`, installed as `partnerdx.cli` (the distribution
claims one import name, `partnerdx`, whose code is this repository's `engine/`). When the checkout
is not installed, this file maps `engine/` to the name `partnerdx` for this process only, so the
same imports work either way; it never installs anything and never shadows an installed copy.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def _partnerdx_from_checkout() -> None:
    if importlib.util.find_spec("partnerdx") is not None:
        return
    engine = Path(__file__).resolve().parent / "engine"
    spec = importlib.util.spec_from_file_location("partnerdx", engine / "__init__.py",
                                                  submodule_search_locations=[str(engine)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["partnerdx"] = module
    spec.loader.exec_module(module)


if __name__ == "__main__":
    _partnerdx_from_checkout()
    from partnerdx.cli import main
    main()
