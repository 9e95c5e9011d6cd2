"""The ``pip`` of a build under ``pip_date`` (see ``installer.py``); runs inside the container.

This file is not imported by swegc: ``DatedInstaller.write`` copies its text into the build's
input folder after a ``CONFIG = '...'`` line. It runs on the venv's Python, which may be as old
as 3.8, so it uses the standard library only and no newer syntax.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

# pip options uv does not take and that change nothing about what is installed
DROPPED = {"--no-cache-dir", "--disable-pip-version-check", "--use-pep517",
           "--no-warn-script-location", "--no-warn-conflicts", "--no-python-version-warning"}
DROPPED_WITH_VALUE = {"--progress-bar", "--root-user-action", "--src"}
RENAMED = {"--pre": ["--prerelease", "allow"], "--ignore-installed": ["--reinstall"],
           "-I": ["--reinstall"]}
YANKED = re.compile(r"`?([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s`]+?)`? (?:was|is) yanked")


def say(message):
    sys.stderr.write("swegc pip: " + message + "\n")
    sys.stderr.flush()


def real_pip(config, args):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the real pip, not the `python -m pip` hand-off
    return subprocess.call([config["venv"] + "/bin/python", "-m", "pip"] + args, env=env)


def translate(args):
    out = []
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if name in DROPPED:
            pass
        elif name in DROPPED_WITH_VALUE:
            if "=" not in arg:
                i += 1
        elif arg in RENAMED:
            out.extend(RENAMED[arg])
        elif arg == "--trusted-host":
            out.extend(["--allow-insecure-host", args[i + 1]])
            i += 1
        else:
            out.append(arg)
        i += 1
    return out


def uv(config, command, args, constraints=None):
    """Run ``uv pip COMMAND``; returns (exit code, output), the output also shown."""
    cmd = [os.environ["SWEGC_UV"], "pip", command] + args + ["--python", config["venv"] + "/bin/python"]
    if command == "install":
        cmd += ["--index-strategy", "unsafe-best-match"]
        for cap in config["exclude_newer_package"]:
            cmd += ["--exclude-newer-package", cap]
        if constraints:
            cmd += ["--constraint", constraints]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["XDG_DATA_HOME"] = config["uv_data"]  # uv's state stays in the cache mount too
    # Every build's editable install of /testbed takes one lock in the shared cache (uv keys
    # it by path): a long one (pandas' meson build, 15 minutes) made the others fail after
    # uv's 300 s. They wait instead; the build's own timeout still bounds the wait.
    env.setdefault("UV_LOCK_TIMEOUT", "86400")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, env=env)
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    sys.stdout.flush()
    return proc.wait(), "".join(lines)


def yanked_pins(output):
    """name -> the highest version uv refused only because it is yanked."""
    pins = {}
    for name, version in YANKED.findall(output):
        key = name.lower()
        if key not in pins or _version_key(version) > _version_key(pins[key]):
            pins[key] = version
    return pins


def _version_key(version):
    return [int(p) if p.isdigit() else 0 for p in re.split(r"[.+-]", version)]


def editables(args):
    """(index, path) of each ``-e PATH`` / ``--editable PATH`` that is a local folder."""
    found = []
    i = 0
    while i < len(args):
        arg = args[i]
        path = None
        if arg in ("-e", "--editable") and i + 1 < len(args):
            path, i = args[i + 1], i + 1
        elif arg.startswith("--editable="):
            path = arg.split("=", 1)[1]
        elif arg.startswith("-e") and len(arg) > 2:
            path = arg[2:]
        if path is not None and os.path.isdir(path.split("[", 1)[0]):
            found.append((i, path))
        i += 1
    return found


def not_editable(args):
    """The same arguments with every ``-e PATH`` written as a plain ``PATH``."""
    out = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            out.append(arg)
        elif arg in ("-e", "--editable"):
            skip = True
        elif arg.startswith("--editable="):
            out.append(arg.split("=", 1)[1])
        elif arg.startswith("-e") and len(arg) > 2:
            out.append(arg[2:])
        else:
            out.append(arg)
    return out


# pip's shim for a project with setup.cfg and no setup.py: setuptools reads setup.cfg
SETUP_SHIM = "import sys, setuptools; sys.argv[0] = 'setup.py'; setuptools.setup()"


def setup_command(python, folder):
    """``python setup.py``, or pip's shim where the project has only setup.cfg."""
    if os.path.isfile(os.path.join(folder, "setup.py")):
        return [python, "setup.py"]
    return [python, "-c", SETUP_SHIM]


# What uv shows when the backend of a project installed with -e has no PEP 660 hook: the
# hook is looked up, and Python's AttributeError names it. A hook that exists and fails (a
# maturin build of pydantic-core that did not compile) is not this: it must stay a failure.
NO_EDITABLE_HOOK = re.compile(
    r"Call to `(?P<backend>[^`]+)\.build_editable` failed.*?"
    r"has no attribute 'build_editable'", re.DOTALL)


def missing_editable_hook(output):
    """The backend (``setuptools.build_meta``) whose missing ``build_editable`` made the
    install fail, or None where the install failed for any other reason."""
    found = NO_EDITABLE_HOOK.search(output)
    return found.group("backend") if found else None


def legacy_develop(config, args, pins, backend):
    """What pip did before PEP 660 for a backend without ``build_editable``: install the
    project's dependencies, then ``setup.py develop --no-deps`` with the venv's setuptools
    (through a shim ``setup.py`` where the project has only setup.cfg, as pip did)."""
    python = config["venv"] + "/bin/python"
    targets = editables(args)
    folders = [p.split("[", 1)[0] for _, p in targets]
    if not targets or not all(os.path.isfile(os.path.join(f, "setup.py")) or
                              os.path.isfile(os.path.join(f, "setup.cfg")) for f in folders):
        if targets:  # pip too needed one of them for a legacy editable install
            say("the build backend %s has no build_editable hook (PEP 660) and %s has neither "
                "setup.py nor setup.cfg to fall back on: require setuptools>=64 in its "
                "pyproject.toml's build-system, or install it without -e" % (backend,
                ", ".join(f for f in folders if not os.path.isfile(os.path.join(f, "setup.cfg"))
                          and not os.path.isfile(os.path.join(f, "setup.py")))))
        return None
    shim = [f for f in folders if not os.path.isfile(os.path.join(f, "setup.py"))]
    say("the build backend %s has no build_editable hook (PEP 660); falling back to "
        "`setup.py develop`%s, as pip did before 25.3" % (backend,
        " (a shim setup.py for %s, which has only setup.cfg)" % ", ".join(shim) if shim else ""))
    plain = not_editable(args)
    code, _ = resolve(config, plain, pins)  # the dependencies (and a wheel of the project)
    if code != 0:
        return code
    if subprocess.call([python, "-c", "import setuptools"], stderr=subprocess.DEVNULL) != 0:
        code, _ = resolve(config, ["setuptools"], pins)  # a venv without one (Python 3.12+)
        if code != 0:
            return code
    for folder in folders:
        command = setup_command(python, folder)
        name = subprocess.check_output(command + ["--name"], cwd=folder,
                                       universal_newlines=True).strip().splitlines()[-1]
        uv(config, "uninstall", [name])
        code = subprocess.call(command + ["develop", "--no-deps"], cwd=folder)
        if code != 0:
            return code
    return 0


def resolve(config, args, pins):
    """``uv pip install ARGS``, pinning what uv refuses only because it is yanked (``pins``
    grows); returns (exit code, output of the last try)."""
    constraints = None
    for _ in range(8):
        if pins:
            handle, constraints = tempfile.mkstemp(prefix="swegc-yanked-", suffix=".txt")
            with os.fdopen(handle, "w") as fh:
                fh.write("".join("%s==%s\n" % item for item in sorted(pins.items())))
        code, output = uv(config, "install", args, constraints)
        new = {k: v for k, v in yanked_pins(output).items() if pins.get(k) != v}
        if code == 0 or not new:
            return code, output
        pins.update(new)
        for name, version in sorted(new.items()):
            say("only yanked releases of %s fit; installing %s==%s as pip would" %
                (name, name, version))
    return code, output


INSTALLED = re.compile(r"^ \+ ([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)


def _name(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def index_pins(config, args):
    """The versions, as of the date on the build's own index, of the packages an environment
    takes from another index (``indexes``), for this install: a dry run without those
    indexes. Such an index has no upload times (PEP 700), so uv's date cap would skip its
    files; pinned to the dated version and exempt from the cap, the package then comes from
    there (its local version, such as 2.1.0+cpu, ranks above the build index's 2.1.0)."""
    wanted = {_name(p) for index in config["indexes"] for p in index["packages"]}
    code, output = uv(config, "install", args + ["--dry-run"])
    if code != 0:  # exact pins (a lock of such a package's local version): no date to find
        say("the dry run that dates %s failed; installing as asked" % ", ".join(sorted(wanted)))
        return {}
    return {_name(n): v for n, v in INSTALLED.findall(output) if _name(n) in wanted}


def install(config, args):
    pins = {}
    if config["indexes"]:
        pins = index_pins(config, args)
        for name, version in sorted(pins.items()):
            say("%s==%s as of the date; installed from its own index" % (name, version))
        # a flag replaces UV_EXTRA_INDEX_URL (the build's own extra index): keep both
        extra = os.environ.get("UV_EXTRA_INDEX_URL", "").split()
        for url in extra + [index["url"] for index in config["indexes"]]:
            args = args + ["--extra-index-url", url]
        config = dict(config, exclude_newer_package=config["exclude_newer_package"] + [
            "%s=false" % p for index in config["indexes"] for p in index["packages"]])
    code, output = resolve(config, args, pins)
    backend = missing_editable_hook(output) if code != 0 else None
    if backend:
        fallback = legacy_develop(config, args, pins, backend)
        if fallback is not None:
            return fallback
    return code


def main(config):
    argv = sys.argv[1:]
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in ("install", "uninstall"):
        return real_pip(config, argv)
    position = argv.index(command)
    args = translate(argv[:position] + argv[position + 1:])
    if command == "uninstall":
        return uv(config, "uninstall", args)[0]
    return install(config, args)


if __name__ == "__main__":
    sys.exit(main(json.loads(globals()["CONFIG"])))
