"""Node and npm packages in env and instance images: what ``environments[].node`` builds.

Node is treated as pip is: the spec names a version, swegc puts that Node into the env image
(``/opt/node``, on the image's PATH after the venv) and installs the JavaScript dependencies of
the named folders, where a repository keeps them beside its Python package (bokeh's
``bokehjs/``):

- a folder with ``package-lock.json`` or ``npm-shrinkwrap.json`` gets ``npm ci``: exactly the
  packages the commit locked;
- a folder without one gets ``npm install --no-package-lock``, resolved as of a date
  (``--before``) when the environment has one, as ``pip_date`` resolves Python packages.

The env step installs them at the env commit; ``git clean`` then keeps each folder's
``node_modules`` (it is not the agent's work, and reinstalling it per instance would put
hundreds of MB into every instance layer). An instance step installs again only where the
folder's ``package.json`` and lockfile (and, without a lockfile, the date) differ from what
the env installed, which a stamp in ``node_modules`` records.

npm's cache lives in the build's package cache mount (``/root/.cache/npm``), never in a layer,
as pip's and uv's do; ``node_setup.py`` keeps the Node and npm tarballs there too.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

NODE_PREFIX = "/opt/node"
DEFAULT_REGISTRY = "https://registry.npmjs.org/"
CACHE = "/root/.cache"  # the build's package cache mount
SETUP_SCRIPT = "/swegc/in/node_setup.py"  # in the build's read-only input mount
STAMP = ".swegc-installed"  # in node_modules: what the folder was installed from


@dataclass(frozen=True)
class NodeRecipe:
    """The Node of an env, and the folders whose npm dependencies its builds install."""

    version: str  # "18", "18.20" or "18.20.4": the newest release that matches
    npm: str | None = None  # the same forms; None: the newest npm that supports that Node
    folders: tuple[str, ...] = ()  # relative to /testbed; "." for the repository root
    date: str | None = None  # ISO date: `npm install --before` where a folder has no lockfile

    def with_date(self, date: str | None) -> NodeRecipe:
        return NodeRecipe(self.version, self.npm, self.folders, date)

    def write(self, build_in: Path) -> None:
        """Put the setup script into the build's input folder (seen at /swegc/in)."""
        shutil.copyfile(Path(__file__).with_name("node_setup.py"), build_in / "node_setup.py")

    def setup_lines(self) -> list[str]:
        """Bash lines that install Node and npm under /opt/node and put them on PATH."""
        args = [SETUP_SCRIPT, '"$npm_config_registry"', NODE_PREFIX, f"{CACHE}/swegc-tools/node",
                shlex.quote(self.version), *([shlex.quote(self.npm)] if self.npm else [])]
        return [*npm_environment(), "python3 " + " ".join(args),
                "node --version", "npm --version"]

    def install_lines(self) -> list[str]:
        """Bash lines that install each folder's dependencies unless they are installed."""
        lines = npm_environment()
        before = f" --before={shlex.quote(self.date)}" if self.date else ""
        for folder in self.folders:
            quoted = shlex.quote(folder)
            lines += [
                f'[ -f /testbed/{quoted}/package.json ] || {{ echo "swegc: node.install: '
                f'{folder} has no package.json at $(git -C /testbed rev-parse --short HEAD)" '
                ">&2; exit 3; }",
                f"cd /testbed/{quoted}",
                "lock=$(ls package-lock.json npm-shrinkwrap.json 2>/dev/null | head -n 1 || true)",
                f'if [ -n "$lock" ]; then how="npm ci"; else how="npm install{before}"; fi',
                'stamp="$how $(cat package.json $lock | sha256sum | cut -d" " -f1)"',
                f'if [ "$(cat node_modules/{STAMP} 2>/dev/null)" = "$stamp" ]; then',
                f"  echo {shlex.quote(f'{folder}: node_modules already match its package files')}",
                'elif [ -n "$lock" ]; then npm ci',
                # A fresh resolution, as npm ci makes one: npm install keeps what it finds.
                f"else rm -rf node_modules && npm install --no-package-lock{before}",
                "fi",
                f'mkdir -p node_modules && echo "$stamp" > node_modules/{STAMP}',
            ]
        return [*lines, "cd /testbed"] if self.folders else []

    def clean_excludes(self) -> str:
        """``git clean`` options that keep each folder's node_modules."""
        paths = ["/node_modules" if f == "." else f"/{f}/node_modules" for f in self.folders]
        return "".join(f" -e {shlex.quote(p)}" for p in paths)


def npm_environment() -> list[str]:
    """npm's settings in a build: its cache in the mount, no network calls that change
    nothing, Node's headers for native modules from /opt/node (node-gyp would download them)."""
    return [f'export PATH={NODE_PREFIX}/bin:"$PATH" npm_config_cache={CACHE}/npm '
            f"npm_config_nodedir={NODE_PREFIX} npm_config_update_notifier=false "
            "npm_config_fund=false npm_config_audit=false npm_config_progress=false "
            f'npm_config_registry="${{npm_config_registry:-{DEFAULT_REGISTRY}}}"']
