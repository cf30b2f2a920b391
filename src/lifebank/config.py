"""One settings object for the whole platform, read from `LIFEBANK_*` environment variables.

Defaults make the embedded install work with no configuration at all: SQLite in a data folder
beside the working directory, a secret key generated once and kept in that folder.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lifebank.errors import ConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIFEBANK_", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Folder for the embedded database and omics files")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir")
    secret_key: str | None = Field(default=None, description="Signs CSRF tokens; default generated in data_dir")
    host: str = "127.0.0.1"
    port: int = 8000
    cookie_secure: bool = Field(default=False, description="Mark cookies Secure (set behind HTTPS)")
    session_hours: int = 12
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    login_max_failures_per_address: int = 20
    default_locale: str = "en"
    time_zone: str = Field(default="Asia/Shanghai", description="Time zone pages show times in (IANA name)")
    metrics_token: str | None = Field(default=None, description="Bearer token a non-loopback /metrics scraper sends")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from None
        return value

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'lifebank.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def ensure_data_dir(self) -> Path:
        """Create the data folder and prove it is writable, so a bad path fails once, clearly, at start."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                "data folder {folder} is not writable ({reason}); set LIFEBANK_DATA_DIR to a folder you can write",
                folder=str(self.data_dir), reason=exc.strerror,
            ) from None
        return self.data_dir

    def effective_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        key_file = self.ensure_data_dir() / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48))
            os.chmod(key_file, 0o600)
        return key_file.read_text().strip()

    def public_view(self) -> dict[str, object]:
        """Settings as `lifebank config show` prints them: secrets masked."""
        url = self.effective_database_url
        return {
            "data_dir": str(self.data_dir),
            "database_url": _mask_password(url),
            "secret_key": "(set)" if self.secret_key else "(generated in data_dir)",
            "host": self.host,
            "port": self.port,
            "cookie_secure": self.cookie_secure,
            "session_hours": self.session_hours,
            "login_max_failures": self.login_max_failures,
            "login_lockout_minutes": self.login_lockout_minutes,
            "login_max_failures_per_address": self.login_max_failures_per_address,
            "default_locale": self.default_locale,
            "time_zone": self.time_zone,
            "metrics_token": "(set)" if self.metrics_token else "(loopback only)",
        }


def _mask_password(url: str) -> str:
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}://{creds}@{host}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
