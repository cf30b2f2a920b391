"""LifeBank: biobank, stem-cell registry and medical-genome data platform."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lifebank")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
