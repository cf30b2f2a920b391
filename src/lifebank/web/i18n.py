"""The UI's languages: kept here for the web layer's imports; the catalogue itself lives in `lifebank.i18n`."""

from lifebank.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    catalog_files,
    from_accept_language,
    normalise,
    translations,
)

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "catalog_files", "from_accept_language", "normalise", "translations"]
