"""The bash side of the persistent shell, and the reader of its answers.

The sandbox's shell reads this protocol on stdin: one line per command,

    __swegc_run TOKEN TIMEOUT CWD COMMAND ENV KEEP_CWD SLICES LAST

(each argument shell-quoted). For every command it

- runs COMMAND with ``eval`` in a subshell (a fork, so it sees the shell's working folder,
  variables and functions) with stdin from /dev/null (a command that reads stdin sees end of
  file instead of eating the protocol) and stderr merged into stdout;
- gives that subshell its own process group (``set -m``), so a timeout kills the command and
  everything it started, never the shell. A command ends when every process of its group has
  ended (``server &`` holds the call until the timeout, as it holds a ``docker exec`` whose
  output stays open); what must outlive a call leaves the group: ``setsid server > log 2>&1 &``;
- copies the subshell's working folder and exported variables back into the shell when it ends
  (an EXIT trap, so ``cd x; exit 3`` keeps ``x``). Unexported variables and functions a command
  defines do not persist; per-call ``env`` never does, nor does the folder of a call given ``cwd``;
- prints ``\\nTOKEN:EXIT_CODE:OOM_KILLS:FORK_FAILURES:BROKEN\\n``. TOKEN is random per command
  and removed from the subshell before COMMAND runs, so a command cannot print a sentinel that
  ends itself early. OOM_KILLS is the container's cgroup OOM-kill counter; FORK_FAILURES how many
  forks the pids limit refused while the command ran (the cgroup's ``pids.events``); BROKEN is
  empty while the sandbox can still serve, else ``state`` (the shell's state folder is gone) or
  the path of a core tool (``CORE_TOOLS``) that was there at the start and is gone: what
  ``rm -rf /`` leaves. A guarded command that finds forks refused since the last one ended
  (something an earlier command left running, in a session of its own, reached the pids limit)
  is not run: BROKEN is ``pids`` and FORK_FAILURES the refusals since. All read with builtins only, a few microseconds.

The timeout is kept by a watchdog started once with the shell (a process substitution that
reads ``arm PID SLICES LAST BASE`` / ``disarm`` lines and waits with ``read -t``), so a call
forks once, for the command. Unguarded it waits LAST seconds at once; guarded (SLICES given)
it wakes every ``WATCH_SLICE_S`` to read the pids limit's fork-failure counter and kills the
command's group as soon as it passed BASE (a fork bomb: exit 137 instead of waiting out the
timeout). The shell uses builtins only between commands (no fork; ``read -t`` on an
idle pipe is its sleep) so it stays usable right after a fork
bomb filled the pids limit. Its own stderr (job notices) is separate from command output.
"""

from __future__ import annotations

import shlex
import struct
from dataclasses import dataclass

STATE = "/dev/shm/.swegc-shell"  # a command leaves its folder and exports here (tmpfs: no disk)
WATCH_SLICE_S = 0.25  # a guarded command's watchdog looks at the pids limit's fork failures this often
# Tools the sandbox itself runs (read_file, write_file, diff); one of them gone means the sandbox
# can no longer serve, as after `rm -rf /`. Only those the image had at the start are checked.
CORE_TOOLS = ("sh", "cat", "ls", "mkdir", "rm", "base64", "git")

INIT = r"""
set +o history 2>/dev/null
set -m
__swegc_dir=%(state)s
mkdir -p "$__swegc_dir" 2>/dev/null || { __swegc_dir=/tmp/.swegc-shell; mkdir -p "$__swegc_dir"; }
exec {__swegc_tick}<> <(:)
__swegc_pidf=
for __swegc_f in /sys/fs/cgroup/pids/pids.events /sys/fs/cgroup/pids.events; do
  if [ -r "$__swegc_f" ]; then __swegc_pidf=$__swegc_f; break; fi
done
__swegc_forkfails() {
  __swegc_fails=0
  if [ -n "$__swegc_pidf" ]; then read -r __swegc_k __swegc_fails < "$__swegc_pidf"; fi
  if [ "$__swegc_k" != max ] || [[ ! $__swegc_fails =~ ^[0-9]+$ ]]; then __swegc_fails=0; fi
}
exec {__swegc_wd}> >(
  exec > /dev/null 2>&1
  while read -r __swegc_k __swegc_pid __swegc_n __swegc_t __swegc_base; do
    [ "$__swegc_k" = arm ] || continue
    __swegc_why=
    while :; do
      if (( __swegc_n > 0 )); then
        if read -r -t %(slice)s __swegc_k; then break; fi
        __swegc_n=$((__swegc_n - 1))
        __swegc_forkfails
        if (( __swegc_fails > __swegc_base )); then __swegc_why=pids; break; fi
      elif read -r -t "$__swegc_t" __swegc_k; then break
      else __swegc_why=timeout; break
      fi
    done
    if [ -n "$__swegc_why" ]; then
      printf "%%s %%s" "$__swegc_pid" "$__swegc_why" > "$__swegc_dir/timeout"
      while kill -KILL -- "-$__swegc_pid"; do read -r -t 0.05 -u "$__swegc_tick"; done
    fi
  done
)
__swegc_oomf=
for __swegc_f in /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events; do
  if [ -r "$__swegc_f" ]; then __swegc_oomf=$__swegc_f; break; fi
done
mapfile -t __swegc_core < <(type -P %(core)s)
__swegc_forkfails; __swegc_seen=$__swegc_fails
__swegc_run() {
  local __swegc_pid __swegc_ec __swegc_line __swegc_why __swegc_k __swegc_v __swegc_oom=0
  local __swegc_fails __swegc_base __swegc_bad=
  local -a __swegc_names
  : > "$__swegc_dir/cwd"; : > "$__swegc_dir/env"; : > "$__swegc_dir/timeout"
  __swegc_forkfails; __swegc_base=$__swegc_fails
  if [ -n "$7" ] && (( __swegc_fails > __swegc_seen )); then
    printf '\n%%s:137:0:%%s:pids\n' "$1" "$((__swegc_fails - __swegc_seen))"
    __swegc_seen=$__swegc_fails
    return
  fi
  (
    __swegc_cwd=$3 __swegc_cmd=$4 __swegc_env=$5 __swegc_keep=$6
    set --
    set +m
    exec 2>&1
    trap '
      if [ -z "$__swegc_keep" ]; then printf "%%s" "$PWD" > "$__swegc_dir/cwd"; fi
      eval "$__swegc_env_unset"
      set -o posix; export -p > "$__swegc_dir/env"' EXIT
    __swegc_env_unset=
    if [ -n "$__swegc_env" ]; then eval "$__swegc_env"; fi
    if [ -n "$__swegc_cwd" ]; then cd -- "$__swegc_cwd" || exit 1; fi
    unset -v __swegc_cwd __swegc_env
    eval "$__swegc_cmd"
  ) < /dev/null &
  __swegc_pid=$!
  if [ -n "$__swegc_pidf" ] && [ -n "$7" ]; then
    printf 'arm %%s %%s %%s %%s\n' "$__swegc_pid" "$7" "$8" "$__swegc_base" >&"$__swegc_wd"
  else
    printf 'arm %%s 0 %%s 0\n' "$__swegc_pid" "$2" >&"$__swegc_wd"
  fi
  wait "$__swegc_pid"; __swegc_ec=$?
  while kill -0 -- "-$__swegc_pid" 2>/dev/null; do read -r -t 0.02 -u "$__swegc_tick"; done
  printf 'disarm\n' >&"$__swegc_wd"
  __swegc_line=
  read -r __swegc_line __swegc_why < "$__swegc_dir/timeout"
  if [ -n "$__swegc_line" ] && [ "$__swegc_line" = "$__swegc_pid" ]; then
    if [ "$__swegc_why" = pids ]; then __swegc_ec=137; else __swegc_ec=124; fi
  else
    __swegc_line=
    if read -r __swegc_line < "$__swegc_dir/cwd" || [ -n "$__swegc_line" ]; then
      if [ -n "$__swegc_line" ]; then cd -- "$__swegc_line" 2>/dev/null; fi
    fi
    if [ -s "$__swegc_dir/env" ]; then
      compgen -e > "$__swegc_dir/names" && mapfile -t __swegc_names < "$__swegc_dir/names"
      unset -v "${__swegc_names[@]}" 2>/dev/null
      . "$__swegc_dir/env"
    fi
  fi
  if [ -n "$__swegc_oomf" ]; then
    while read -r __swegc_k __swegc_v; do
      if [ "$__swegc_k" = oom_kill ]; then __swegc_oom=$__swegc_v; fi
    done < "$__swegc_oomf"
  fi
  __swegc_forkfails; __swegc_seen=$__swegc_fails
  if [ ! -d "$__swegc_dir" ]; then
    __swegc_bad=state
  else
    for __swegc_line in "${__swegc_core[@]}"; do
      if [ ! -x "$__swegc_line" ]; then __swegc_bad=$__swegc_line; break; fi
    done
  fi
  printf '\n%%s:%%s:%%s:%%s:%%s\n' "$1" "$__swegc_ec" "$__swegc_oom" \
    "$((__swegc_fails - __swegc_base))" "$__swegc_bad"
}
""" % {"state": STATE, "slice": WATCH_SLICE_S, "core": " ".join(CORE_TOOLS)}


def run_line(token: str, command: str, timeout_s: float, cwd: str | None,
             env: dict[str, str] | None, guard: bool = False) -> bytes:
    """The protocol line that runs ``command`` once; ``guard``: kill it once it hits the pids
    limit (the watchdog looks every ``WATCH_SLICE_S``) rather than at its timeout only."""
    if "\0" in command:
        raise ValueError("a command cannot contain a NUL byte")
    env = env or {}
    for name in env:
        if not name.isidentifier():
            raise ValueError(f"not an environment variable name: {name!r}")
    env_script = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    if env:  # per-call variables are unset again before the exports are saved
        env_script += f"__swegc_env_unset='unset -v {' '.join(env)}'\n"
    timeout_s = max(timeout_s, 0.001)
    slices, last = "", ""
    if guard:  # the watchdog waits in slices, then the rest (bash has no fractional arithmetic)
        n = int(timeout_s // WATCH_SLICE_S)
        slices, last = str(n), f"{max(timeout_s - n * WATCH_SLICE_S, 0.001):.3f}"
    args = [token, f"{timeout_s:.3f}", cwd or "", command, env_script, "1" if cwd else "",
            slices, last]
    return ("__swegc_run " + " ".join(shlex.quote(a) for a in args) + "\n").encode(
        "utf-8", errors="surrogateescape")


@dataclass(frozen=True)
class Status:
    """The shell's report after a command (the sentinel line's fields)."""

    exit_code: int
    oom_kills: int = 0
    fork_failures: int = 0  # forks the pids limit refused while the command ran
    broken: str = ""  # "" while the sandbox can serve; "state" or a core tool's path once gone


class OutputCollector:
    """Keeps the head and the tail of a command's output within ``cap`` bytes, counting the rest.

    Bytes are fed as they come; ``feed`` returns True once the end marker ``\\nTOKEN:`` and the
    line after it arrived. What follows the marker line (output of background jobs) is dropped.
    """

    def __init__(self, token: str, cap: int):
        self.marker = b"\n" + token.encode() + b":"
        self.cap = max(cap, 0)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.pending = bytearray()
        self.status: Status | None = None

    def feed(self, data: bytes) -> bool:
        self.pending += data
        at = self.pending.find(self.marker)
        if at < 0:
            keep = len(self.marker) - 1  # a marker split across two reads
            if len(self.pending) > keep:
                self._keep(bytes(self.pending[:len(self.pending) - keep]))
                del self.pending[:len(self.pending) - keep]
            return False
        end = self.pending.find(b"\n", at + len(self.marker))
        if end < 0:
            return False
        self._keep(bytes(self.pending[:at]))
        fields = bytes(self.pending[at + len(self.marker):end]).split(b":", 3)
        code, ooms, fails, broken = [*fields, b"", b"", b"", b""][:4]
        self.status = Status(int(code or b"-1"), int(ooms or b"0"), int(fails or b"0"),
                             broken.decode("utf-8", errors="replace"))
        return True

    def _keep(self, data: bytes) -> None:
        self.total += len(data)
        room = self.cap // 2 - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            excess = len(self.tail) - (self.cap - self.cap // 2)
            if excess > 0:
                del self.tail[:excess]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head) + len(self.tail)

    def text(self) -> str:
        head = bytes(self.head).decode("utf-8", errors="replace")
        if not self.truncated:
            return head + bytes(self.tail).decode("utf-8", errors="replace")
        cut = self.total - len(self.head) - len(self.tail)
        note = (f"\n[... {cut} bytes of output cut: {self.total} bytes in all, the first and "
                f"last {self.cap // 2} kept (output_bytes={self.cap}) ...]\n")
        return head + note + bytes(self.tail).decode("utf-8", errors="replace")


class FrameReader:
    """Splits Docker's multiplexed attach stream (8-byte headers) into (stream, payload) pairs."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buffer += data
        frames = []
        while len(self.buffer) >= 8:
            stream, size = self.buffer[0], struct.unpack(">I", self.buffer[4:8])[0]
            if len(self.buffer) < 8 + size:
                break
            frames.append((stream, bytes(self.buffer[8:8 + size])))
            del self.buffer[:8 + size]
        return frames
