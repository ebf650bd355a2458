"""Where a QuestDB server is and how to log in: the ``questdb://`` URL."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ...errors import InvalidInput
from ...redact import mask_passwords

T = TypeVar("T")

DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "quest"
DEFAULT_PG_PORT = 8812
DEFAULT_HTTP_PORT = 9000
DEFAULT_DBNAME = "qdb"
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class QuestDBConfig:
    """Where the server is and how to log in (every part defaults to QuestDB's default)."""

    host: str = "localhost"
    pg_port: int = DEFAULT_PG_PORT
    http_port: int = DEFAULT_HTTP_PORT
    user: str = DEFAULT_USER
    password: str = DEFAULT_PASSWORD
    dbname: str = DEFAULT_DBNAME
    timeout: float = DEFAULT_TIMEOUT
    #: credentials were given in the URL: send them on HTTP too (servers with HTTP auth)
    explicit_auth: bool = False

    @classmethod
    def from_url(cls, url: str) -> QuestDBConfig:
        """Parse ``questdb://user:pass@host:8812/qdb?http_port=9000&timeout=30``."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() != "questdb":
            raise InvalidInput(f"not a questdb:// URL: {url!r}")
        try:
            port = parts.port
        except ValueError:
            raise InvalidInput(f"invalid port in {mask_passwords(url)!r}") from None
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        known = {"http_port", "timeout"}
        unknown = sorted(set(query) - known)
        if unknown:
            raise InvalidInput(f"unknown option(s) {', '.join(unknown)} in {mask_passwords(url)!r}; "
                               f"known: {', '.join(sorted(known))}")

        def one(name: str, conv: Callable[[str], T], default: T) -> T:
            if name not in query:
                return default
            try:
                return conv(query[name][-1])
            except ValueError:
                raise InvalidInput(f"invalid {name}={query[name][-1]!r} in {mask_passwords(url)!r}"
                                   ) from None

        http_port = one("http_port", int, DEFAULT_HTTP_PORT)
        timeout = one("timeout", float, DEFAULT_TIMEOUT)
        if not 0 < http_port < 65536:
            raise InvalidInput(f"invalid http_port {http_port} in {mask_passwords(url)!r}")
        if not timeout > 0:
            raise InvalidInput(f"timeout must be positive, not {timeout}")
        dbname = parts.path.lstrip("/") or DEFAULT_DBNAME
        return cls(
            host=parts.hostname or "localhost",
            pg_port=port or DEFAULT_PG_PORT,
            http_port=http_port,
            user=urllib.parse.unquote(parts.username) if parts.username else DEFAULT_USER,
            password=(urllib.parse.unquote(parts.password) if parts.password is not None
                      else DEFAULT_PASSWORD),
            dbname=urllib.parse.unquote(dbname),
            timeout=timeout,
            explicit_auth=parts.username is not None,
        )

    @property
    def url(self) -> str:
        """The canonical URL, without the password (safe to print)."""
        user = urllib.parse.quote(self.user, safe="")
        auth = f"{user}@" if self.user != DEFAULT_USER or self.explicit_auth else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        opts = {"http_port": self.http_port}
        if self.timeout != DEFAULT_TIMEOUT:
            opts["timeout"] = self.timeout  # type: ignore[assignment]
        return (f"questdb://{auth}{host}:{self.pg_port}/{urllib.parse.quote(self.dbname)}?"
                + urllib.parse.urlencode(opts))

    @property
    def pg_address(self) -> str:
        return f"{self.host}:{self.pg_port}"

    @property
    def http_address(self) -> str:
        return f"{self.host}:{self.http_port}"


