"""The installer of a build under ``pip_date``: one ``pip`` for the env and instance steps.

pip cannot resolve packages "as of a date" on every Python swegc builds (its
``--uploaded-prior-to`` needs pip 26, which needs Python 3.9); uv can (``--exclude-newer``) on
all of them. So under ``pip_date`` every ``pip install`` of a build (``pip``, ``pip3`` and
``python -m pip`` in the spec's commands, in the env step and again in each instance step)
goes through one wrapper that runs ``uv pip install`` with the same date, and adds back what
SWE-bench's install lines expect from pip:

- a requirement whose only releases are yanked is installed (PEP 592, as pip does): uv refuses
  one unless it is pinned with ``==``, so the wrapper pins what uv names as yanked and retries;
- an editable install of a project whose build backend has no ``build_editable`` hook (PEP 660)
  falls back to ``setup.py develop``, as pip did before 25.3 (through pip's shim where the
  project has only setup.cfg): the dependencies are installed by uv, the project with the
  venv's setuptools;
- several indexes are searched as pip searches them (``--index-strategy unsafe-best-match``);
- a package the environment takes from another index (``indexes``: PyTorch's CPU wheels) is
  resolved as of the date on the build's own index, then installed at that version from the
  other index: such an index has no upload times (PEP 700), and uv's date cap skips files
  without one, silently falling back to the build index's build of the package;
- build tools that must work with today's Pythons and each other (setuptools, wheel,
  setuptools-scm) resolve no older than ``BUILD_TOOLS_FLOOR``, and those the venv came with
  (``python -m venv`` seeds the Python's bundled setuptools) are upgraded to that before any
  install, so that an unpinned ``setuptools`` is not "already satisfied" by an older one;
  packages named in ``pip_date_exempt`` are not capped at all.

uv and the wrapper stay out of every image: uv is installed once per machine into the host's
package cache (mounted at build time on ``/root/.cache``), the wrapper is written into the
build's read-only input mount (``/swegc/in``). Neither is in a layer or on the image's PATH.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# (url, package names): packages taken from another index than the build's
Indexes = tuple[tuple[str, tuple[str, ...]], ...]
UV_VERSION = "0.13.9"
# setuptools 64+ (2022) has PEP 660 editable installs, which uv requires; 67.x still ships
# pkg_resources; setuptools-scm must be new enough for that setuptools (an older one leaves a
# pyproject-configured project at version 0.0.0).
BUILD_TOOLS_FLOOR = "2023-06-01T00:00:00Z"
BUILD_TOOLS = ("setuptools", "wheel", "setuptools-scm")
BUILD_TOOL_MODULES = {"setuptools": "setuptools", "wheel": "wheel",
                      "setuptools-scm": "setuptools_scm"}
TOOLS_DIR = "/root/.cache/swegc-tools"  # in the host cache mount, never in a layer
WRAPPER_DIR = "/swegc/in/installer"  # in the build's read-only input mount


@dataclass(frozen=True)
class DatedInstaller:
    """``pip install`` through uv, resolving as of ``date`` (an ISO date or datetime)."""

    date: str
    exempt: tuple[str, ...] = ()  # packages resolved without the date cap
    indexes: Indexes = ()  # (url, packages): packages installed from another index

    def write(self, build_in: Path, venv: str) -> None:
        """Write the wrapper (``bin/pip``, ``bin/pip3``, a ``pip`` package for ``python -m
        pip``) under the build's input folder, which the container sees at /swegc/in."""
        root = build_in / "installer"
        (root / "bin").mkdir(parents=True, exist_ok=True)
        (root / "pyshim" / "pip").mkdir(parents=True, exist_ok=True)
        config = {"venv": venv, "date": self.date, "exclude_newer_package": self.package_caps(),
                  "uv_data": f"{TOOLS_DIR}/data",
                  "indexes": [{"url": url, "packages": list(names)} for url, names in self.indexes]}
        source = (Path(__file__).with_name("pip_wrapper.py")).read_text()
        wrapper = f"#!{venv}/bin/python\nCONFIG = {json.dumps(config)!r}\n{source}"
        for name in ("pip", "pip3"):
            (root / "bin" / name).write_text(wrapper)
            (root / "bin" / name).chmod(0o755)
        # `python -m pip` imports the package `pip` first: this one, on PYTHONPATH, hands the
        # command to the wrapper; imported any other way it steps aside for the real pip.
        (root / "pyshim" / "pip" / "__init__.py").write_text(
            "import os, sys\n"
            "if sys.argv and sys.argv[0] == '-m':\n"
            f"    os.execv({WRAPPER_DIR + '/bin/pip'!r}, ['pip'] + sys.argv[1:])\n"
            f"sys.path[:] = [p for p in sys.path if p != {WRAPPER_DIR + '/pyshim'!r}]\n"
            "del sys.modules['pip']\n"
            "import pip as _real\n"
            "sys.modules[__name__] = _real\n")

    def package_caps(self) -> list[str]:
        """``--exclude-newer-package`` values: build tools at the floor, exemptions uncapped."""
        floor = max(self.date, BUILD_TOOLS_FLOOR)
        caps = {name: floor for name in BUILD_TOOLS}
        caps.update({name: "false" for name in self.exempt})
        return [f"{name}={value}" for name, value in sorted(caps.items())]

    def setup_lines(self, venv: str) -> list[str]:
        """Bash lines that make uv available (once per machine) and put the wrapper first."""
        # The platform is part of the folder: a musl image must not run a glibc uv.
        return [
            'libc=gnu; if ls /lib/ld-musl-* >/dev/null 2>&1; then libc=musl; fi',
            f'uv_dir={TOOLS_DIR}/uv-{UV_VERSION}-$(uname -m)-$libc',
            'if ! "$uv_dir/bin/uv" --version >/dev/null 2>&1; then',
            f'  tmp={TOOLS_DIR}/.uv-$$; rm -rf "$tmp"; mkdir -p {TOOLS_DIR}',
            f'  {venv}/bin/python -m pip install -q --disable-pip-version-check '
            f'--target "$tmp" uv=={UV_VERSION}',
            '  mv -T "$tmp" "$uv_dir" 2>/dev/null || rm -rf "$tmp"',
            "fi",
            f'XDG_DATA_HOME={TOOLS_DIR}/data "$uv_dir/bin/uv" --version',
            f'export SWEGC_UV="$uv_dir/bin/uv" PATH={WRAPPER_DIR}/bin:$PATH '
            f"PYTHONPATH={WRAPPER_DIR}/pyshim UV_EXCLUDE_NEWER={self.date}",
        ]

    @staticmethod
    def seed_snapshot_lines(venv: str) -> list[str]:
        """Bash lines, before ``pre_install``, that note the build tools the venv came with
        (its seed packages) and their versions, without running uv: ``pre_install`` may
        write a file the spec's env names for uv (``UV_OVERRIDE``), so no uv call may come
        before it. ``seed_lines`` reads the note after ``pre_install``."""
        return [f"seed_before=$({_seed_probe(venv)})"]

    @staticmethod
    def seed_lines(venv: str, pre_install: tuple[str, ...] = ()) -> list[str]:
        """Bash lines, after ``setup_lines``, ``seed_snapshot_lines`` and ``pre_install``,
        that bring the venv's seed build tools up to the floor, through the wrapper: an
        unpinned requirement of one later would otherwise be "already satisfied" by the
        Python's bundled release (setuptools 44 on old Pythons). Tools the venv lacks stay
        out, and so does one that ``pre_install`` names or changed: a spec's pin
        (``setuptools==40.8.0``, or the very version the venv came with) holds."""
        named = " ".join(pre_install).lower().replace("_", "-")
        kept = [name for name in BUILD_TOOL_MODULES if name not in named]
        if not kept:
            return []
        names = "|".join(name.replace("-", "[-_]") for name in kept)
        return [f"seed_after=$({_seed_probe(venv)})",
                'seeded=$(printf "%s\\n" "$seed_before" | grep -Fx -e "$seed_after" '
                f'| grep -iE \'^({names})==\' | sed "s/==.*//" || true)',
                'if [ -n "$seeded" ]; then pip install -U $seeded; fi']


def _seed_probe(venv: str) -> str:
    """A command that prints ``name==version`` of each build tool in the venv (pip's own
    freeze: it runs no uv)."""
    names = "|".join(name.replace("-", "[-_]") for name in BUILD_TOOL_MODULES)
    return (f"PYTHONPATH= {venv}/bin/python -m pip freeze --all --disable-pip-version-check "
            f"2>/dev/null | grep -iE '^({names})==' || true")
