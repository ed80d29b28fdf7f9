"""Settings from options > environment > batchgs.toml profile > defaults.

Secrets (API keys, shared secrets) are wrapped in `Secret`, whose repr and str are masked, so that a
key cannot leak through a log line, an exception message or a traceback's locals by accident.

Every command imports this module, `--help` included, so what only some paths need (TOML, platform
directories, a key command's subprocess, hashing) is imported where it is used: ~20 ms of each start.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from batchgs.errors import ConfigError

PX_REGIONS: dict[str, str] = {
    "us": "https://api.aptrinsic.com",
    "eu": "https://api-eu.aptrinsic.com",
    "us2": "https://api-us2.aptrinsic.com",
}
PX_MAX_RATE = 200
PX_DEFAULT_RATE = 190
PX_DAILY_LIMIT = 1_000_000
CS_PER_MINUTE = 100
CS_DAILY_LIMIT = 50_000
PROFILE_FILE = "batchgs.toml"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
SECRET_ENV_VARS = ("GAINSIGHT_PX_API_KEY", "GAINSIGHT_CS_ACCESS_KEY", "GAINSIGHT_CS_SHARED_SECRET")
MIN_SCRUB_LENGTH = 8  # shorter values would blank out ordinary words; real keys are 30+ characters
_KNOWN_SECRETS: set[str] = set()  # every Secret built in this process, for `scrub_secrets`


class Secret:
    """A string that never shows itself: repr/str give a mask; `.reveal()` is the only way in."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= MIN_SCRUB_LENGTH:
            _KNOWN_SECRETS.add(value)

    def reveal(self) -> str:
        return self._value

    def fingerprint(self) -> str:
        """A stable, non-reversible id for ledgers: never the key itself."""
        import hashlib

        return hashlib.sha256(b"batchgs-ledger:" + self._value.encode()).hexdigest()[:24]

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def secret_forms(value: str) -> list[str]:
    """The ways a secret may show up in text: as is, URL-encoded, base64 (plain and URL-safe)."""
    import base64

    raw = value.encode()
    forms = {
        value,
        quote(value, safe=""),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    return sorted(forms, key=len, reverse=True)


_ENV_OVERLAY: ContextVar[Mapping[str, str] | None] = ContextVar("batchgs_env_overlay", default=None)


def environment() -> Mapping[str, str]:
    """The process environment, with the values of `environment_overlay` on top where one is active."""
    overlay = _ENV_OVERLAY.get()
    return os.environ if overlay is None else {**os.environ, **overlay}


@contextmanager
def environment_overlay(values: Mapping[str, str]) -> Iterator[None]:
    """Settings resolved inside see `values` as if they were environment variables (the Python API's
    `Credentials`): per context, so threads and tasks never see each other's keys, and nothing is
    written to `os.environ`, where child processes and other threads would inherit it."""
    for name in SECRET_ENV_VARS:
        if values.get(name):
            _KNOWN_SECRETS.add(values[name])  # scrubbed from messages like the environment's
    token = _ENV_OVERLAY.set({**(_ENV_OVERLAY.get() or {}), **values})
    try:
        yield
    finally:
        _ENV_OVERLAY.reset(token)


def scrub_secrets(text: str, values: list[str] | None = None) -> str:
    """Replace every known secret (each `Secret` of this process and the secret environment variables,
    or just `values`) in `text` with `***`, in every form of `secret_forms`."""
    if values is None:
        values = [*_KNOWN_SECRETS, *(environment().get(v) or "" for v in SECRET_ENV_VARS)]
    for value in sorted({v for v in values if len(v) >= MIN_SCRUB_LENGTH}, key=len, reverse=True):
        for form in secret_forms(value):
            if form in text:
                text = text.replace(form, "***")
    return text


def default_state_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir("batchgs", appauthor=False))


def default_config_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("batchgs", appauthor=False))


def is_loopback(host: str | None) -> bool:
    """`localhost` or a loopback IP address (127.0.0.0/8, ::1) — never a DNS name that merely starts
    with `127.` (`127.0.0.1.nip.io` resolves anywhere)."""
    if not host:
        return False
    if host.lower() in LOOPBACK_HOSTS:
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Refuse plain http to anything but loopback: the key travels in a header."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"invalid base URL {url!r}", hint="use https://host (no path), e.g. https://api.aptrinsic.com"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing plain http:// for non-loopback host {parts.hostname!r}: "
            "the API key would travel unencrypted",
            hint="use https://",
        )
    return url.rstrip("/")


def run_key_command(command: str) -> Secret:
    """Run a secret manager CLI (no shell) and take its first output line as the key."""
    import shlex
    import subprocess

    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ConfigError(f"api_key_command cannot be parsed: {exc}") from None
    if not argv:
        raise ConfigError("api_key_command is empty")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, shell=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"api_key_command {argv[0]!r} could not run: {type(exc).__name__}") from None
    if done.returncode != 0:
        raise ConfigError(f"api_key_command exited with status {done.returncode}")
    value = done.stdout.strip().splitlines()[0].strip() if done.stdout.strip() else ""
    if not value:
        raise ConfigError("api_key_command printed nothing")
    return Secret(value)


def find_profile_file(cwd: Path | None = None) -> Path | None:
    for folder in (cwd or Path.cwd(), default_config_dir()):
        candidate = folder / PROFILE_FILE
        if candidate.is_file():
            return candidate
    return None


def load_profile(name: str | None, *, path: Path | None = None) -> dict[str, Any]:
    """The `[profiles.NAME]` table (or `[default]` when no name) of batchgs.toml; {} when none."""
    path = path or find_profile_file()
    if path is None:
        if name:
            raise ConfigError(
                f"profile {name!r} requested but no {PROFILE_FILE} found in . or {default_config_dir()}"
            )
        return {}
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read profile file: {exc}") from None
    if name is None:
        table = data.get("default", {})
    else:
        table = data.get("profiles", {}).get(name)
        if table is None:
            known = ", ".join(sorted(data.get("profiles", {}))) or "none"
            raise ConfigError(f"{path}: no profile {name!r} (known: {known})")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: profile must be a table")
    for forbidden in ("api_key", "access_key", "shared_secret"):
        if forbidden in table:
            raise ConfigError(
                f"{path}: {forbidden!r} written in a profile file is refused",
                hint='use api_key_env = "VAR" or api_key_command = "op read ..."',
            )
    return table


@dataclass(frozen=True)
class FileDefaults:
    """Connection defaults brought by a `--map` file (a px-data-loader config.json): the weakest source,
    below options, environment and profile, so a profile pointing at a sandbox is never redirected."""

    region: str | None = None
    base_url: str | None = None  # only when the file names a host batchgs has no region for
    product_key: str | None = None


@dataclass(frozen=True)
class Coordinator:
    """The Redis that several machines share for the limiter and the daily ledger: its URL without the
    password (safe to print) and the password as a Secret (never printed, logged or stored)."""

    url: str
    password: Secret | None = None


def parse_coordinator(text: str) -> Coordinator:
    """`redis://[user[:password]@]host:port/db` or `rediss://...` (TLS)."""
    parts = urlsplit(text)
    host_port = parts.netloc.rsplit("@", 1)[-1]
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ConfigError(
            f"coordinator {parts.scheme}://{host_port}{parts.path}: not a redis:// or rediss:// URL",
            hint="BATCHGS_COORDINATOR=redis://host:6379/0 (or rediss:// for TLS)",
        )
    user = parts.username or ""
    netloc = f"{user}@{host_port}" if user else host_port
    url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return Coordinator(url, Secret(unquote(parts.password)) if parts.password else None)


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to talk to Gainsight. Built once per command by `resolve`."""

    px_base_url: str = PX_REGIONS["us"]
    px_api_key: Secret | None = None
    product_key: str | None = None
    rate: float = PX_DEFAULT_RATE
    daily_limit: int = PX_DAILY_LIMIT
    cs_base_url: str | None = None
    cs_access_key: Secret | None = None
    cs_shared_secret: Secret | None = None
    cs_per_minute: int = CS_PER_MINUTE  # the CS key's own limit per minute, divided among its jobs
    cs_job_per_minute: int | None = None  # this job's own pace (`--rate`), never above cs_per_minute
    cs_daily_limit: int = CS_DAILY_LIMIT
    state_dir: Path = field(default_factory=default_state_dir)
    ca_bundle: str | None = None
    production: bool = False
    profile: str | None = None
    strict_warnings: bool = False  # warnings (guesses such as lost leading zeros) refuse the row
    coordinator: Coordinator | None = None  # Redis shared by several machines (BATCHGS_COORDINATOR)
    key_rate: int = PX_MAX_RATE  # the PX key's own limit per second, divided among the jobs using it

    @property
    def cs_pace(self) -> int:
        """Calls per minute this CS job sends at most: its `--rate` below the key's limit. The key's
        limit itself stays `cs_per_minute`: the shared limiter divides that among the key's jobs."""
        return min(self.cs_per_minute, self.cs_job_per_minute or self.cs_per_minute)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def require_px_key(self) -> Secret:
        if not self.px_api_key:
            raise ConfigError(
                "no Gainsight PX API key",
                hint="export GAINSIGHT_PX_API_KEY=... (or api_key_env / api_key_command in a batchgs.toml profile)",  # noqa: E501
            )
        return self.px_api_key


def _secret_from(env: Mapping[str, str], var: str, profile: Mapping[str, Any], prefix: str) -> Secret | None:
    if env.get(var):
        return Secret(env[var])
    if profile.get(f"{prefix}_env") and env.get(str(profile[f"{prefix}_env"])):
        return Secret(env[str(profile[f"{prefix}_env"])])
    if profile.get(f"{prefix}_command"):
        return run_key_command(str(profile[f"{prefix}_command"]))
    return None


def resolve(
    *,
    profile: str | None = None,
    region: str | None = None,
    base_url: str | None = None,
    product_key: str | None = None,
    rate: float | None = None,
    daily_limit: int | None = None,
    state_dir: str | Path | None = None,
    cs_base_url: str | None = None,
    strict_warnings: bool | None = None,
    env: Mapping[str, str] | None = None,
    profile_path: Path | None = None,
    file_defaults: FileDefaults | None = None,
) -> Settings:
    """Merge options > environment > profile > `file_defaults` > defaults into one `Settings`."""
    env = environment() if env is None else env
    fallback = file_defaults or FileDefaults()
    profile = profile or env.get("BATCHGS_PROFILE") or None
    prof = load_profile(profile, path=profile_path)
    chosen_region = region or env.get("GAINSIGHT_PX_REGION") or prof.get("region")
    region = chosen_region or fallback.region or "us"
    if region not in PX_REGIONS:
        raise ConfigError(f"unknown region {region!r}", hint=f"use one of {', '.join(PX_REGIONS)}")
    px_url = (
        base_url
        or env.get("GAINSIGHT_PX_BASE_URL")
        or prof.get("base_url")
        or (None if chosen_region else fallback.base_url)
        or PX_REGIONS[region]
    )
    cs_url = cs_base_url or env.get("GAINSIGHT_CS_BASE_URL") or prof.get("cs_base_url")
    chosen_rate = float(rate if rate is not None else prof.get("rate", PX_DEFAULT_RATE))
    if not 0 < chosen_rate <= PX_MAX_RATE:
        raise ConfigError(
            f"--rate must be between 1 and {PX_MAX_RATE} requests per second, not {chosen_rate:g}"
        )
    state = state_dir or env.get("BATCHGS_STATE_DIR") or prof.get("state_dir")
    coordinator = env.get("BATCHGS_COORDINATOR") or prof.get("coordinator")
    key_rate = _int_setting(env.get("BATCHGS_KEY_RATE") or prof.get("key_rate") or PX_MAX_RATE, "key_rate")
    if not 0 < key_rate <= PX_MAX_RATE:
        raise ConfigError(f"key_rate must be between 1 and {PX_MAX_RATE} requests per second, not {key_rate}")
    return Settings(
        px_base_url=check_base_url(str(px_url)),
        px_api_key=_secret_from(env, "GAINSIGHT_PX_API_KEY", prof, "api_key"),
        product_key=product_key
        or env.get("GAINSIGHT_PX_PRODUCT_KEY")
        or prof.get("product_key")
        or fallback.product_key,
        rate=chosen_rate,
        daily_limit=int(daily_limit if daily_limit is not None else prof.get("daily_limit", PX_DAILY_LIMIT)),
        cs_base_url=check_base_url(str(cs_url)) if cs_url else None,
        cs_access_key=_secret_from(env, "GAINSIGHT_CS_ACCESS_KEY", prof, "cs_access_key"),
        cs_shared_secret=_secret_from(env, "GAINSIGHT_CS_SHARED_SECRET", prof, "cs_shared_secret"),
        cs_per_minute=int(prof.get("cs_per_minute", CS_PER_MINUTE)),
        cs_daily_limit=int(prof.get("cs_daily_limit", CS_DAILY_LIMIT)),
        state_dir=Path(state) if state else default_state_dir(),
        ca_bundle=env.get("BATCHGS_CA_BUNDLE") or prof.get("ca_bundle"),
        production=bool(prof.get("production", False)),
        profile=profile,
        strict_warnings=bool(
            strict_warnings if strict_warnings is not None else prof.get("strict_warnings", False)
        ),
        coordinator=parse_coordinator(str(coordinator)) if coordinator else None,
        key_rate=key_rate,
    )


def _int_setting(value: object, name: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
