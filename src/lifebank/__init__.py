"""LifeBank: biobank, stem-cell registry and medical-genome data platform."""

from __future__ import annotations

from functools import cache


@cache
def _installed_version() -> str:
    # importlib.metadata costs ~30 ms to import and scan site-packages; only `--version`, the web app and
    # `serve` need the version, so `lifebank --help` and every other one-shot command do not pay for it.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lifebank")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> str:
    """`lifebank.__version__`, looked up on first use (PEP 562)."""
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
