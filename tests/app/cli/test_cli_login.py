"""`anibridge login anilist|mal|plex` end to end against the fakes on 127.0.0.1.

The CLI runs in a subprocess; the test plays the person: it reads the address the
CLI prints, "approves" on the fake's sign-in page (a GET that redirects), and pastes
the address it ended on or lets the browser hit the CLI's loopback server. Tokens
must end up encrypted in the store, work for a sync, and never be printed.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from anibridge.app.service.problems import EXIT_AUTH
from anibridge.testing.fakes.anilist import AniListFake
from anibridge.testing.fakes.catalog import FakeMedia
from anibridge.testing.fakes.mal import MalFake
from anibridge.testing.fakes.media import MediaLibrary
from anibridge.testing.fakes.plex import FakePlex, FakePlexTv
from tests.app.cli.cli_support import invoke

CLI = [sys.executable, "-m", "anibridge.app.cli"]
MEDIA = [FakeMedia(anilist_id=111, mal_id=111, title="Corrector Yui", episodes=26)]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ANIBRIDGE_")}


class Login:
    """The CLI waiting for a person: read what it prints, answer on stdin.

    Unbuffered binary pipes: a text pipe's line iterator reads ahead, and the
    lines it buffered would be invisible to `communicate`, which reads the file
    descriptor itself (a line printed right after the address got lost that way).
    """

    def __init__(self, config: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "login", *args, "--json", "--no-browser", "--config", str(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            bufsize=0, env=_env(), cwd=config.parent,
        )  # fmt: skip
        self.seen: list[str] = []

    def address(self) -> str:
        """The sign-in address the CLI printed (on stderr: stdout stays JSON)."""
        assert self.proc.stderr is not None
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode()
            self.seen.append(line)
            found = re.search(r"Open (\S+) ", line)
            if found:
                return found.group(1)
        raise AssertionError("no address printed: " + "".join(self.seen))

    def finish(self, answer: str | None = None) -> tuple[int, str, str]:
        out, err = self.proc.communicate(
            None if answer is None else (answer + "\n").encode(), timeout=120
        )
        return self.proc.returncode, out.decode(), "".join(self.seen) + err.decode()


def _approve(url: str) -> str:
    """The person's browser: follow the sign-in page to where it redirects."""
    response = httpx.get(url, follow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def _write(tmp_path: Path, target: dict, source: dict | None = None) -> Path:
    (tmp_path / "library.yaml").write_text("anibridge_local: 1\nitems: []\n")
    config = {
        "data_dir": "data",
        "profiles": {
            "main": {
                "source": source or {"name": "lib", "type": "local",
                                     "config": {"path": "lib.sqlite",
                                                "seed": "library.yaml"}},
                "target": target,
            }
        },
    }  # fmt: skip
    path = tmp_path / "anibridge.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _store_text(tmp_path: Path) -> bytes:
    db = tmp_path / "data" / "anibridge.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT ciphertext FROM tokens")
        return b"".join(bytes(r[0]) for r in rows)


def _saved_keys(tmp_path: Path) -> list[str]:
    db = tmp_path / "data" / "anibridge.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return sorted(r[0] for r in conn.execute("SELECT key FROM tokens"))
        except sqlite3.OperationalError:
            return []


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=_env(), timeout=180
    )


def _pasted(config: Path, *args: str, answer: str) -> tuple[int, str, str]:
    """`login` with `answer` already on stdin, the same app in-process.

    For failure cases whose answer does not depend on the printed address; each
    flow keeps its address-dependent cases in a real subprocess (`Login`).
    """
    done = invoke("login", *args, "--json", "--no-browser", "--config", str(config),
                  cwd=config.parent, input=answer + "\n")  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- AniList --------------------------------------------------------------------------


@pytest.fixture
def anilist():
    with AniListFake(media=MEDIA, time_scale=0.001) as fake:
        yield fake


def _anilist_config(tmp_path: Path, fake: AniListFake, **extra) -> Path:
    return _write(tmp_path, {"type": "anilist", "config": {
        "client_id": fake.client_id, "base_url": fake.base_url,
        "authorize_url": f"{fake.base_url}/api/v2/oauth/authorize",
        "time_scale": 0.001, **extra}})  # fmt: skip


def test_anilist_login_pastes_the_token_and_stores_it_encrypted(tmp_path, anilist):
    config = _anilist_config(tmp_path, anilist)
    login = Login(config, "anilist")
    url = login.address()
    assert "response_type=token" in url and f"client_id={anilist.client_id}" in url
    landed = _approve(url)
    assert landed.startswith("https://anilist.co/api/v2/oauth/pin#access_token=")
    code, out, err = login.finish(landed)
    assert code == 0, err
    assert json.loads(out) == {
        "provider": "anilist", "account": str(anilist.user_id),
        "account_name": anilist.user_name, "saved_for": ["main/anilist"],
    }  # fmt: skip
    token = anilist.issued[-1]
    assert token not in out + err and token.encode() not in _store_text(tmp_path)
    # The sync signs in with the stored token (the config has none); the login ran
    # in its own process, so this one only has what the store kept.
    plan = invoke("plan", "--json", "--config", str(config))
    assert plan.returncode == 0, plan.stderr


def test_anilist_login_accepts_the_bare_token_too(tmp_path, anilist):
    # In-process (the pasted-address test above crosses the process boundary): a
    # first call prints the address and finds nothing pasted, the second gets the
    # bare token the fake issued for that address.
    config = _anilist_config(tmp_path, anilist)
    _code, _, err = _pasted(config, "anilist", answer="")
    url = re.search(r"Open (\S+) ", err).group(1)
    landed = _approve(url)
    code, out, err = _pasted(
        config, "anilist", answer=landed.split("access_token=")[1].split("&")[0]
    )
    assert code == 0, err
    assert json.loads(out)["saved_for"] == ["main/anilist"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("deny", "AniList did not authorize AniBridge (The user denied the request)"),
        (
            "https://anilist.co/api/v2/oauth/pin",
            "the pasted address has no access_token",
        ),
        ("", "nothing was pasted"),
        ("x" * 40, "the new AniList tokens do not work"),
    ],
    ids=["denied", "address-without-token", "empty", "rejected-token"],
)
def test_anilist_login_failures_are_one_line_and_save_nothing(
    tmp_path, anilist, answer, message
):
    config = _anilist_config(tmp_path, anilist)
    if answer == "deny":
        login = Login(config, "anilist")
        url = login.address()
        anilist.authorize_answer = "deny"
        code, out, err = login.finish(_approve(url))
    else:
        code, out, err = _pasted(config, "anilist", answer=answer)
    assert code == 1 and out == ""
    assert message in _one_line(err)
    assert _saved_keys(tmp_path) == []


def test_anilist_login_without_a_client_id_says_where_to_get_one(tmp_path, anilist):
    config = _write(tmp_path, {"type": "anilist",
                               "config": {"base_url": anilist.base_url}})  # fmt: skip
    code, _, err = _pasted(config, "anilist", answer="")
    assert code == 1
    line = _one_line(err)
    assert "client id" in line and "anilist.co/settings/developer" in line


# -- MyAnimeList ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mal():
    with MalFake(media=MEDIA, time_scale=0.001) as fake:
        fake.redirect_uri = f"http://127.0.0.1:{_free_port()}/callback"
        yield fake


def _mal_config(tmp_path: Path, fake: MalFake) -> Path:
    return _write(tmp_path, {"type": "mal", "config": {
        "client_id": fake.client_id, "client_secret": fake.client_secret,
        "base_url": f"{fake.base_url}/v2", "redirect_uri": fake.redirect_uri,
        "time_scale": 0.001}})  # fmt: skip


def test_mal_login_receives_the_redirect_on_loopback(tmp_path, mal):
    config = _mal_config(tmp_path, mal)
    login = Login(config, "mal")
    url = login.address()
    assert "code_challenge_method=plain" in url and "state=" in url
    landed = _approve(url)
    assert landed.startswith(mal.redirect_uri + "?code=")
    stray = httpx.get(mal.redirect_uri.replace("/callback", "/favicon.ico"), timeout=30)
    assert stray.status_code == 404  # a stray request does not end the login
    page = httpx.get(landed, timeout=30)
    assert page.status_code == 200 and "AniBridge received the sign-in" in page.text
    code, out, err = login.finish()
    assert code == 0, err
    assert json.loads(out)["account"] == str(mal.user_id)
    assert mal.codes == {}  # the code was spent
    issued = [t for t in mal.access_tokens if t != "mal-access-0"]
    assert issued and not any(t.encode() in _store_text(tmp_path) for t in issued)
    plan = invoke("plan", "--json", "--config", str(config))
    assert plan.returncode == 0, plan.stderr


def test_mal_login_takes_the_pasted_redirect(tmp_path, mal):
    config = _mal_config(tmp_path, mal)
    login = Login(config, "mal", "--paste")
    code, out, err = login.finish(_approve(login.address()))
    assert code == 0, err
    assert json.loads(out)["saved_for"] == ["main/mal"]


def test_mal_login_falls_back_to_paste_when_the_port_is_taken(tmp_path, mal):
    config = _mal_config(tmp_path, mal)
    port = int(mal.redirect_uri.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        login = Login(config, "mal")
        landed = _approve(login.address())
        code, _, err = login.finish(landed)
    assert code == 0, err
    assert f"Cannot listen on 127.0.0.1:{port}" in err


def _wrong_state(url: str) -> str:
    return re.sub(r"state=[^&]+", "state=not-this-login", url)


def _wrong_code(url: str) -> str:
    return re.sub(r"code=[^&]+", "code=mal-code-forged", url)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        ("deny", "MyAnimeList did not authorize AniBridge (the user denied access)"),
        (_wrong_state, "the redirect belongs to another sign-in"),
        (_wrong_code, "MyAnimeList refused the authorization code (400)"),
        ("not-a-url", "that is not the address MAL sent you to"),
        ("no-code", "its state does not match"),
    ],
    ids=["denied", "wrong-state", "bad-code", "not-a-url", "no-code"],
)
def test_mal_login_failures_are_one_line_and_save_nothing(
    tmp_path, mal, mangle, message
):
    config = _mal_config(tmp_path, mal)
    if mangle in ("not-a-url", "no-code"):  # answers the address does not shape
        answer = "hello" if mangle == "not-a-url" else f"{mal.redirect_uri}?state=x"
        code, out, err = _pasted(config, "mal", "--paste", answer=answer)
    else:
        login = Login(config, "mal", "--paste")
        url = login.address()
        if mangle == "deny":
            mal.authorize_answer = "deny"
            answer = _approve(url)
        else:
            answer = mangle(_approve(url))
        code, out, err = login.finish(answer)
    assert code == 1 and out == ""
    assert message in _one_line(err)
    assert _saved_keys(tmp_path) == []


def test_mal_login_without_a_client_id_says_what_to_register(tmp_path, mal):
    config = _write(tmp_path, {"type": "mal", "config": {"base_url": mal.base_url}})
    code, _, err = _pasted(config, "mal", answer="")
    assert code == 1
    line = _one_line(err)
    assert "myanimelist.net/apiconfig" in line and "App Redirect URL" in line


# -- Plex -----------------------------------------------------------------------------


def _plex_library() -> MediaLibrary:
    lib = MediaLibrary()
    lib.add_section("1", "Anime", "show")
    lib.add_user("1", "Owner", admin=True)
    yui = lib.add_item(
        "show", "Corrector Yui", "1",
        plex_guid="com.plexapp.agents.hama://anidb-3529?lang=en",
    )  # fmt: skip
    for n in range(1, 27):
        ep = lib.add_episode(yui.key, 1, n)
        lib.play("1", ep.key, 1_700_100_000 + n * 3600)
    return lib


@pytest.fixture
def plex():
    with (
        FakePlex(_plex_library()) as server,
        FakePlexTv(server, time_scale=0.001) as tv,
    ):
        yield server, tv


def _plex_side(server: FakePlex, tv: FakePlexTv) -> dict:
    return {"type": "plex", "config": {
        "base_url": server.base_url, "plex_tv_url": tv.base_url,
        "auth_url": f"{tv.base_url}/auth", "time_scale": 0.001}}  # fmt: skip


def _edit(section: str, **values: str) -> str:
    """Fill in keys of a template section the way a person would: uncomment, set."""
    for key, value in values.items():
        section, n = re.subn(
            rf"^(\s+)(?:# )?{key}:.*$", rf"\g<1>{key}: {value}", section, count=1,
            flags=re.M,
        )  # fmt: skip
        assert n == 1, key
    return section


def test_init_plex_anilist_then_login_both_and_a_first_sync(tmp_path, plex, anilist):
    """The README path: `init --with plex,anilist`, sign in to both, sync."""
    server, tv = plex
    tv.approve_after_polls = 3  # the person signs in while the CLI polls
    # The PIN outlives any machine's slowness (the default 1,800 service seconds
    # are 1.8 real ones at this scale: a busy machine's three polls can take that).
    tv.pin_ttl = 10**6
    config = tmp_path / "anibridge.yaml"
    init = _cli("init", str(config), "--with", "plex,anilist")
    assert init.returncode == 0, init.stderr
    plex_part, anilist_part = config.read_text().split("config: &anilist\n")
    head, plex_part = plex_part.split("config: &plex\n")
    # The person's edits: where their server is (plus the fakes' other addresses
    # and the test clock), and the AniList client id; no token anywhere.
    plex_part = "        time_scale: 0.001\n" + _edit(
        plex_part, base_url=server.base_url, plex_tv_url=tv.base_url,
        auth_url=f"{tv.base_url}/auth",
    )  # fmt: skip
    anilist_part = "        time_scale: 0.001\n" + _edit(
        anilist_part, client_id=anilist.client_id, base_url=anilist.base_url,
        authorize_url=f"{anilist.base_url}/api/v2/oauth/authorize",
    )  # fmt: skip
    config.write_text(
        f"{head}config: &plex\n{plex_part}config: &anilist\n{anilist_part}"
    )
    sides = yaml.safe_load(config.read_text())["profiles"]["default"]
    assert not any("token" in sides[side]["config"] for side in ("source", "target"))

    login = Login(config, "plex")
    url = login.address()
    pin = next(iter(tv.pins.values()))
    assert url.startswith(f"{tv.base_url}/auth#?clientID=")
    assert f"code={pin['code']}" in url
    code, out, err = login.finish()
    assert code == 0, err
    assert json.loads(out) == {"provider": "plex", "account": "1",
                               "account_name": "Plex server owner",
                               "saved_for": ["default/plex"]}  # fmt: skip
    assert pin["polls"] == 3
    token = pin["authToken"]
    assert token not in out + err and token.encode() not in _store_text(tmp_path)

    login = Login(config, "anilist")
    code, _, err = login.finish(_approve(login.address()))
    assert code == 0, err

    sync = _cli("sync", "--json", "--config", str(config))
    assert sync.returncode == 0, sync.stderr
    assert json.loads(sync.stdout)["failed"] == 0
    entry = anilist.entry_for(111)
    assert entry is not None and (entry["status"], entry["progress"]) == (
        "COMPLETED", 26)  # fmt: skip


@pytest.mark.parametrize("how", ["plex.tv-forgets", "ttl-runs-out"])
def test_plex_login_expired_pin_is_one_line_and_saves_nothing(tmp_path, plex, how):
    server, tv = plex
    if how == "plex.tv-forgets":
        tv.expire_after_polls = 2
    else:
        tv.pin_ttl = 5  # service seconds, never approved (polls: see the unit test)
    config = _write(tmp_path, _plex_side(server, tv))
    # In-process: the PIN flow's real process runs in the `init` test above.
    code, out, err = _pasted(config, "plex", answer="")
    assert code == 1 and out == ""
    assert "expired before it was approved" in _one_line(err)
    assert _saved_keys(tmp_path) == []


def test_plex_without_a_saved_token_says_to_log_in(tmp_path, plex):
    server, tv = plex
    # The source is Plex; with no token anywhere the run names the fix.
    list_side = {"name": "lst", "type": "local", "config": {"path": "l.sqlite"}}
    config = _write(tmp_path, list_side, source=_plex_side(server, tv))
    plan = _cli("plan", "--config", str(config))
    assert plan.returncode == EXIT_AUTH  # no credentials: the documented code
    assert "run `anibridge login plex`" in _one_line(plan.stderr)


# -- Trakt (the device flow, kept) -----------------------------------------------------


@pytest.mark.parametrize("how", ["denied", "expired"])
def test_trakt_login_denied_or_expired_is_one_line_and_saves_nothing(tmp_path, how):
    from anibridge.testing.fakes.trakt import FakeTrakt

    with FakeTrakt(time_scale=0.001) as fake:
        if how == "expired":
            fake.device_ttl = 30.0  # service seconds: a few polls, never approved
        else:  # the denial lands first however slow the machine (600 s is 0.6 s)
            fake.device_ttl = 10**6
        config = _write(tmp_path, {"type": "trakt", "config": {
            "client_id": fake.client_id, "client_secret": fake.client_secret,
            "base_url": fake.base_url, "time_scale": 0.001}})  # fmt: skip
        if how == "denied":  # a real process: the test reads the code it prints
            login = Login(config, "trakt")
            login.address()
            code = re.search(r"enter the code (\S+) ", "".join(login.seen)).group(1)
            fake.deny_device(code)
            status, out, err = login.finish()
        else:  # nothing to answer: the same app in-process
            status, out, err = _pasted(config, "trakt", answer="")
    assert status == 1 and out == ""
    assert ("denied" if how == "denied" else "expired") in _one_line(err)
    assert _saved_keys(tmp_path) == []
