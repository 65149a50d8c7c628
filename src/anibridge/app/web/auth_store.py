"""Persistent credentials of the service: accounts, API tokens, sessions, webhooks.

Accounts: the built-in ``admin`` (its password from the config or generated) and
any number of further users, each with the role ``admin`` (sees and runs
everything) or ``user`` (sees only the profiles whose ``owner`` they are; see
`anibridge.app.web.access`). API tokens, sessions and webhook secrets belong to one
account each, so a webhook URL leads only to its owner's profiles.

Kept in one small JSON file (mode 0600) next to the data, written atomically, so the
credentials survive restarts and do not depend on the sync store's schema. Only
hashes of passwords, tokens and session ids are stored; webhook secrets are stored as
given because the settings page must be able to show the webhook URL again.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from anibridge.app.web.security import (
    generate_password,
    hash_password,
    hash_token,
    new_token,
    same,
    verify_password,
)

try:  # POSIX: serialize writers across processes (the CLI and the service)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["ADMIN_USER", "ROLES", "AuthStore", "Session", "TokenInfo", "UserInfo"]

ADMIN_USER = "admin"
ROLES = ("admin", "user")
_SESSION_TTL = timedelta(days=7)
_USER_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A personal API token as listed (never the secret itself)."""

    id: str
    name: str
    created_at: str
    hint: str
    last_used_at: str | None = None
    user: str = ADMIN_USER


@dataclass(frozen=True, slots=True)
class UserInfo:
    """An account as listed (never its password hash)."""

    name: str
    role: str
    created_at: str | None = None


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in browser session: who, its CSRF token, and when it expires."""

    user: str
    csrf: str
    expires_at: str


class AuthStore:
    """Credentials in a JSON file; every method is thread-safe.

    Args:
        path: The JSON file (created with mode 0600 on first write).
        scrypt_n: scrypt cost for new password hashes (tests lower it).
    """

    def __init__(self, path: Path, *, scrypt_n: int = 2**15) -> None:
        """Load the file if it exists; a corrupt file is an error, never reset."""
        self.path = path
        self._n = scrypt_n
        self._lock = threading.RLock()
        self._data: dict[str, Any] = {
            "admin": None,
            "tokens": [],
            "sessions": {},
            "webhook_secrets": {},
            "users": {},
            "user_webhook_secrets": {},
        }
        self._mtime: int | None = None
        self._refresh()

    # -- persistence ---------------------------------------------------------
    def _refresh(self) -> None:
        """Reload when another process (``anibridge token create``) changed the file."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime == self._mtime:
            return
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"{self.path}: unreadable credentials file: {exc}"
            ) from exc
        if not isinstance(loaded, dict):
            raise ValueError(f"{self.path}: credentials file must hold a JSON object")
        self._data.update(loaded)
        self._mtime = mtime

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Read-modify-write under a thread lock and an inter-process file lock."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
                if fcntl is not None:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    self._refresh()
                    yield
                    self._save()
                finally:
                    if fcntl is not None:
                        fcntl.flock(lock, fcntl.LOCK_UN)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".auth-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self._data, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
            self._mtime = self.path.stat().st_mtime_ns
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- admin password ------------------------------------------------------
    @property
    def has_admin(self) -> bool:
        """Whether an admin password has been set."""
        return bool(self._data.get("admin"))

    def ensure_admin(self, password: str | None = None) -> str | None:
        """Make sure an admin password exists.

        A configured `password` always wins (re-hashed when it changed). With none
        configured and none stored, a random one is generated and returned so the
        caller can print it exactly once.

        Returns:
            The generated password, or None when nothing was generated.
        """
        with self._lock:
            self._refresh()
            admin = self._data.get("admin")
            if password:
                if not admin or not verify_password(password, admin["password_hash"]):
                    self.set_password(password)
                return None
            if admin:
                return None
            generated = generate_password()
            self.set_password(generated)
            return generated

    def set_password(self, password: str) -> None:
        """Replace the admin password and end the admin's sessions."""
        self.set_user_password(ADMIN_USER, password)

    def set_user_password(self, user: str, password: str) -> None:
        """Replace an account's password and end that account's sessions.

        Raises:
            KeyError: no such account.
        """
        hashed = hash_password(password, n=self._n)
        with self._writing():
            if user == ADMIN_USER:
                self._data["admin"] = {
                    "username": ADMIN_USER,
                    "password_hash": hashed,
                    "changed_at": _now().isoformat(),
                }
            elif user in self._data["users"]:
                self._data["users"][user]["password_hash"] = hashed
            else:
                raise KeyError(f"no account {user!r}")
            self._end_sessions(user)

    def _end_sessions(self, user: str) -> None:
        sessions = self._data["sessions"]
        for key in [k for k, v in sessions.items() if v.get("user") == user]:
            del sessions[key]

    def check_login(self, username: str, password: str) -> bool:
        """Verify a username/password pair (constant time in the password).

        An unknown name still costs one password check, so timing does not tell
        which accounts exist.
        """
        self._refresh()
        admin = self._data.get("admin")
        if username == ADMIN_USER or not username:
            if not admin:
                return False
            ok_user = same(username, admin["username"])
            ok_pass = verify_password(password, admin["password_hash"])
            return ok_user and ok_pass
        account = self._data["users"].get(username)
        stored = (
            account["password_hash"] if account else (admin or {}).get("password_hash")
        )
        if not stored:
            return False
        ok_pass = verify_password(password, stored)
        return account is not None and ok_pass

    # -- accounts --------------------------------------------------------------
    def add_user(
        self, name: str, password: str | None = None, *, role: str = "user"
    ) -> str | None:
        """Create an account; with no `password` one is generated and returned.

        Raises:
            ValueError: the name is taken or malformed, the role unknown, or the
                password shorter than 10 characters.
        """
        if not _USER_NAME.fullmatch(name):
            raise ValueError(
                f"account name {name!r}: use 1-40 lowercase letters, digits, "
                "'.', '_' or '-', starting with a letter or digit"
            )
        if role not in ROLES:
            raise ValueError(f"role {role!r}: expected one of {', '.join(ROLES)}")
        generated = None
        if password is None:
            password = generated = generate_password()
        if len(password) < 10:
            raise ValueError("password: use at least 10 characters")
        hashed = hash_password(password, n=self._n)
        with self._writing():
            if name == ADMIN_USER or name in self._data["users"]:
                raise ValueError(f"account {name!r} already exists")
            self._data["users"][name] = {
                "role": role,
                "password_hash": hashed,
                "created_at": _now().isoformat(),
            }
        return generated

    def remove_user(self, name: str) -> bool:
        """Delete an account with its sessions, tokens and webhook secrets.

        Raises:
            ValueError: `name` is the built-in admin.
        """
        if name == ADMIN_USER:
            raise ValueError("the built-in admin account cannot be removed")
        with self._writing():
            if self._data["users"].pop(name, None) is None:
                return False
            self._end_sessions(name)
            self._data["tokens"] = [
                t for t in self._data["tokens"] if t.get("user", ADMIN_USER) != name
            ]
            self._data["user_webhook_secrets"].pop(name, None)
            return True

    def users(self) -> list[UserInfo]:
        """Every account, the built-in admin first."""
        self._refresh()
        admin = self._data.get("admin") or {}
        out = [UserInfo(ADMIN_USER, "admin", admin.get("changed_at"))]
        for name, raw in sorted(self._data["users"].items()):
            out.append(UserInfo(name, raw["role"], raw.get("created_at")))
        return out

    def role(self, user: str) -> str | None:
        """An account's role, or None when there is no such account."""
        if user == ADMIN_USER:
            return "admin"
        self._refresh()
        raw = self._data["users"].get(user)
        return raw["role"] if raw else None

    # -- sessions ------------------------------------------------------------
    def create_session(self, user: str = ADMIN_USER) -> tuple[str, Session]:
        """Start a session; returns the cookie value (only its hash is kept)."""
        sid = secrets.token_urlsafe(32)
        session = Session(
            user=user,
            csrf=secrets.token_urlsafe(24),
            expires_at=(_now() + _SESSION_TTL).isoformat(),
        )
        with self._writing():
            sessions = self._data["sessions"]
            now = _now().isoformat()
            for key in [k for k, v in sessions.items() if v["expires_at"] < now]:
                del sessions[key]
            sessions[hash_token(sid)] = asdict(session)
        return sid, session

    def session(self, sid: str) -> Session | None:
        """The live session for a cookie value, or None."""
        if not sid:
            return None
        self._refresh()
        raw = self._data["sessions"].get(hash_token(sid))
        if raw is None or raw["expires_at"] < _now().isoformat():
            return None
        return Session(**raw)

    def end_session(self, sid: str) -> None:
        """Log a session out."""
        with self._writing():
            self._data["sessions"].pop(hash_token(sid), None)

    # -- known devices ------------------------------------------------------------
    def _device_key(self) -> bytes:
        self._refresh()
        key = self._data.get("device_key")
        if not key:
            with self._writing():
                self._data.setdefault("device_key", secrets.token_hex(32))
            key = self._data["device_key"]
        return bytes.fromhex(key)

    def new_device(self) -> str:
        """A signed cookie value marking a browser that logged in successfully."""
        ident = secrets.token_urlsafe(16)
        return f"{ident}.{self._device_sig(ident)}"

    def _device_sig(self, ident: str) -> str:
        digest = hmac.new(self._device_key(), ident.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def known_device(self, cookie: str) -> bool:
        """Whether `cookie` is a device value this service signed (see `new_device`)."""
        ident, _, sig = cookie.partition(".")
        if not ident or len(cookie) > 200:
            return False
        return same(sig, self._device_sig(ident))

    # -- API tokens ------------------------------------------------------------
    def create_token(self, name: str, user: str = ADMIN_USER) -> tuple[TokenInfo, str]:
        """Create a personal API token of `user`; the secret is returned once.

        Raises:
            ValueError: the name is empty or longer than 80 characters, or the
                account does not exist.
        """
        name = name.strip()
        if not name or len(name) > 80:
            raise ValueError("token name must be 1-80 characters")
        if self.role(user) is None:
            raise ValueError(f"no account {user!r}")
        secret = new_token()
        info = TokenInfo(
            id=secrets.token_hex(6),
            name=name,
            created_at=_now().isoformat(),
            hint=secret[:8] + "…",
            user=user,
        )
        with self._writing():
            self._data["tokens"].append({**asdict(info), "hash": hash_token(secret)})
        return info, secret

    def tokens(self, user: str | None = None) -> list[TokenInfo]:
        """Tokens of `user` (all with None), oldest first."""
        self._refresh()
        return [
            TokenInfo(**{k: v for k, v in raw.items() if k != "hash"})
            for raw in self._data["tokens"]
            if user is None or raw.get("user", ADMIN_USER) == user
        ]

    def revoke_token(self, token_id: str, user: str | None = None) -> bool:
        """Delete a token (of `user` only, when given); False when none matched."""
        with self._writing():
            before = len(self._data["tokens"])
            self._data["tokens"] = [
                t
                for t in self._data["tokens"]
                if t["id"] != token_id
                or (user is not None and t.get("user", ADMIN_USER) != user)
            ]
            return len(self._data["tokens"]) != before

    def check_token(self, secret: str) -> TokenInfo | None:
        """The token a bearer secret belongs to, or None."""
        self._refresh()
        digest = hash_token(secret)
        found = None
        for raw in self._data["tokens"]:
            if same(raw["hash"], digest):
                found = raw
        if found is None:
            return None
        return TokenInfo(**{k: v for k, v in found.items() if k != "hash"})

    # -- webhook secrets -----------------------------------------------------
    def _secrets_of(self, user: str) -> dict[str, str]:
        """The provider → secret map of `user` (the admin's is the original one)."""
        if user == ADMIN_USER:
            return self._data["webhook_secrets"]
        return self._data["user_webhook_secrets"].setdefault(user, {})

    def webhook_secret(self, provider: str, user: str = ADMIN_USER) -> str:
        """The inbound secret of `user` for a provider key, generated on first use."""
        self._refresh()
        if user == ADMIN_USER:
            known = self._data["webhook_secrets"].get(provider)
        else:
            known = self._data["user_webhook_secrets"].get(user, {}).get(provider)
        if known is not None:
            return known
        with self._writing():
            self._secrets_of(user).setdefault(provider, secrets.token_urlsafe(24))
        return self._secrets_of(user)[provider]

    def rotate_webhook_secret(self, provider: str, user: str = ADMIN_USER) -> str:
        """Replace `user`'s webhook secret of a provider (the old URL stops working)."""
        with self._writing():
            self._secrets_of(user)[provider] = secrets.token_urlsafe(24)
        return self._secrets_of(user)[provider]

    def webhook_owner(self, provider: str, sent: str) -> str | None:
        """The account whose secret for `provider` is `sent`, or None.

        Every account's secret is compared (constant time each), so timing does
        not tell which matched.
        """
        self._refresh()
        candidates = [(ADMIN_USER, self._data["webhook_secrets"].get(provider))]
        for user, known in self._data["user_webhook_secrets"].items():
            candidates.append((user, known.get(provider)))
        owner = None
        for user, secret in candidates:
            if secret is not None and same(sent, secret) and sent:
                owner = user
        return owner
