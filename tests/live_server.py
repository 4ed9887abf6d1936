"""Fixtures for tests through a real ``newsletter serve`` process and a real browser.

Registered for every test by ``pytest_plugins`` in tests/conftest.py::

    newsletter_workspace  (module) a throwaway workspace: newsletter.toml (the example one, its
                          sample sources read from the checkout), a copy of subscribers/, then
                          `newsletter init`, `collect`, `subscribers sync` and today's draft of
                          every list (`editions build`; ``.drafts[slug]`` gives its id and
                          day); ``.cli(...)`` runs more commands in it, ``.outbox`` is the mail
    live_server           (module) `newsletter serve` on a free loopback port of that workspace,
                          up once /healthz answers 200, stopped (SIGTERM) at teardown
    browser               (module) Debian's Chromium, headless, through Playwright; the test is
                          skipped when /usr/bin/chromium is missing, failed instead when
                          NEWSLETTER_REQUIRE_BROWSER=1 (as in CI: .ci/run installs it)
    page                  (function) a fresh page in its own context; its screenshot is saved
                          at teardown as ARTIFACTS/<module>/<test>.png (ARTIFACTS: var/test-
                          artifacts/ in the checkout, or NEWSLETTER_TEST_ARTIFACTS)
    artifacts             (function) that folder, for more screenshots (``shoot(page, path)``)

Nothing is downloaded: Playwright drives the system Chromium (never `playwright install`).
Playwright's sync API leaves its event loop visible to the thread while it runs, so keep browser
tests in modules of their own: ``asyncio.run`` fails next to a live ``browser`` fixture.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ENV_REQUIRE_BROWSER = "NEWSLETTER_REQUIRE_BROWSER"
ARTIFACTS = Path(os.environ.get("NEWSLETTER_TEST_ARTIFACTS", ROOT / "var" / "test-artifacts"))
SECRET = "a-test-secret-that-is-long-enough"
SERVER_START_SECONDS = 30.0  # a bound on the wait, not a check of how fast it starts
COMMAND_SECONDS = 300.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Draft(NamedTuple):
    id: int
    day: str  # YYYY-MM-DD


@dataclass
class Workspace:
    """A newsroom in a folder: its configuration, store (SQLite), subscribers and outbox."""

    root: Path
    port: int  # the port its web.base_url names; live_server listens on it
    env: dict[str, str] = field(default_factory=dict, repr=False)  # never in a failure report
    drafts: dict[str, Draft] = field(default_factory=dict)  # by list slug, as filled

    @property
    def config(self) -> Path:
        return self.root / "newsletter.toml"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.root / 'var' / 'newsletter.db'}"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    def cli(self, *args: str, input: str | None = None) -> str:
        """Run `newsletter --config ... ARGS` as a process; its output, or a failed test."""
        done = subprocess.run(
            [sys.executable, "-m", "newsletter.cli", "--config", str(self.config), *args],
            env=self.env, cwd=self.root, input=input, capture_output=True, text=True,
            timeout=COMMAND_SECONDS,
        )
        if done.returncode != 0:
            pytest.fail(
                f"'newsletter {' '.join(args)}' in {self.root} exited with {done.returncode}:\n"
                f"{done.stdout}{done.stderr}"
            )
        return done.stdout


def make_workspace(root: Path, *, fill: bool = True) -> Workspace:
    """The example configuration in ROOT, with state there; FILL: init, collect, sync, drafts."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    text = (ROOT / "newsletter.toml").read_text(encoding="utf-8")
    text = text.replace('url = "sample/', f'url = "{ROOT}/sample/')
    text = text.replace(
        'data = "var"',
        f'data = "{root / "var"}"\nsubscribers = "{root / "subscribers"}"\n'
        f'templates = "{ROOT / "templates"}"\noutbox = "{root / "outbox"}"',
    )
    text += f'\n[web]\nbase_url = "http://127.0.0.1:{port}"\nfetch_private = true  # pages on loopback\n'
    (root / "newsletter.toml").write_text(text, encoding="utf-8")
    shutil.copytree(ROOT / "subscribers", root / "subscribers", dirs_exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(NEWSLETTER_SECRET_KEY=SECRET, PYTHONUNBUFFERED="1")
    workspace = Workspace(root, port, env)
    if fill:
        workspace.cli("init")
        workspace.cli("collect")
        workspace.cli("subscribers", "sync")
        for slug in re.findall(r'^slug = "([^"]+)"', (root / "subscribers" / "lists.toml")
                               .read_text(encoding="utf-8"), re.MULTILINE):
            built = re.match(r"edition (\d+) of \S+ for (\S+):",
                             workspace.cli("editions", "build", "--list", slug))
            if built:  # else nothing new for that list
                workspace.drafts[slug] = Draft(int(built[1]), built[2])
    return workspace


@pytest.fixture(scope="module")
def newsletter_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return make_workspace(tmp_path_factory.mktemp("workspace"))


@dataclass
class LiveServer:
    workspace: Workspace
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return self.workspace.base_url

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def live_server(newsletter_workspace: Workspace) -> Iterator[LiveServer]:
    with start_server(newsletter_workspace) as server:
        yield server


@contextmanager
def start_server(workspace: Workspace) -> Iterator[LiveServer]:
    """`newsletter serve` on WORKSPACE's port, once /healthz answers 200; stopped on exit."""
    log = workspace.root / f"serve-{workspace.port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "newsletter.cli", "--config", str(workspace.config), "serve",
             "--host", "127.0.0.1", "--port", str(workspace.port)],
            env=workspace.env, cwd=workspace.root, stdout=out, stderr=subprocess.STDOUT,
        )
    server = LiveServer(workspace, process, log)
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_until_healthy(server: LiveServer) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    answer: httpx.Response | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"'newsletter serve' exited with {server.process.returncode} before "
                        f"answering on {server.url}:\n{server.output()}")
        try:
            answer = httpx.get(f"{server.url}/healthz", timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if answer.status_code == 200:
            return
        time.sleep(0.1)
    said = f"/healthz said {answer.status_code} {answer.text}" if answer else "no answer"
    pytest.fail(f"'newsletter serve' not healthy on {server.url} after "
                f"{SERVER_START_SECONDS:.0f} s ({said}):\n{server.output()}")


# -- the browser -------------------------------------------------------------------------------


def browser_unavailable() -> str | None:
    """Why no browser test can run here, or None."""
    if not CHROMIUM.exists():
        return (f"Chromium not found at {CHROMIUM} "
                "(apt-get install chromium; .ci/run installs it when missing)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return ("the playwright package is missing "
                "(PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 pip install -e '.[test]')")
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, headless, for the module's tests (see the module docstring for why a module)."""
    reason = browser_unavailable()
    if reason:
        if os.environ.get(ENV_REQUIRE_BROWSER) == "1":
            pytest.fail(f"{reason} ({ENV_REQUIRE_BROWSER}=1: CI must run the browser tests)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _artifact_name(node: pytest.Item) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node.name).strip("_")


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """ARTIFACTS/<test module>/: where this test's screenshots go."""
    folder = ARTIFACTS / request.node.module.__name__.rsplit(".", 1)[-1]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page: Any, path: Path, *, full_page: bool = True) -> Path:
    """A PNG screenshot of PAGE at PATH."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture
def page(browser: Any, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh context (no cookies shared between tests), 1280x800 by default."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        yield tab
        if not tab.is_closed():
            try:
                shoot(tab, artifacts / f"{_artifact_name(request.node)}.png")
            except Exception as exc:  # noqa: BLE001 (a crashed page must not hide the test's own error)
                sys.stderr.write(f"no screenshot of {request.node.nodeid}: {exc}\n")
    finally:
        context.close()
