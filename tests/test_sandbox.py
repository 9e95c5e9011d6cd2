"""The persistent-shell sandbox against the real Docker engine: state, limits and isolation."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from swegc.runtime.sandbox import ExecResult, SandboxGone, SandboxLimits, open_sandbox

pytestmark = pytest.mark.docker

BASE = "swegc-base:bookworm"
SMALL = SandboxLimits(cpus=1.0, memory="256m", pids=128, disk="200m", output_bytes=64 * 1024)


def sandbox(guard: bool = False, **changes):
    limits = SandboxLimits(**{**SMALL.__dict__, **changes})
    return open_sandbox(BASE, limits, labels={"org.swegc.test": "sandbox"}, guard=guard)


@pytest.fixture
def box(docker_engine):
    with sandbox() as opened:
        yield opened


def test_working_folder_and_exported_variables_persist_between_commands(box):
    box.execute("mkdir -p /tmp/work && cd /tmp/work && export GREETING='hello world'")
    assert box.execute('pwd; echo "$GREETING"').output == "/tmp/work\nhello world\n"
    box.execute("unset GREETING; cd /")
    assert box.execute('pwd; echo "${GREETING-unset}"').output == "/\nunset\n"


def test_cwd_and_env_given_to_one_call_hold_for_that_call_only(box):
    box.execute("cd /tmp")
    once = box.execute('pwd; echo "$ONLY"', cwd="/usr", env={"ONLY": "a b"})
    assert once.output == "/usr\na b\n"
    assert box.execute('pwd; echo "${ONLY-unset}"').output == "/tmp\nunset\n"


def test_an_exit_in_a_command_ends_the_command_with_its_code_not_the_shell(box):
    result = box.execute("cd /etc; echo out; echo err >&2; exit 3")
    assert (result.exit_code, result.output) == (3, "out\nerr\n")
    assert box.execute("pwd").output == "/etc\n"


def test_a_timeout_kills_the_command_and_what_it_started_but_the_shell_stays(box):
    box.execute("export KEPT=1")
    result = box.execute("sleep 300 & echo started; sleep 300", timeout_s=1)
    assert result.exit_code == 124 and result.timed_out and "started" in result.output
    after = box.execute('echo "$KEPT"; ps -eo args 2>/dev/null || ls /proc')
    assert after.exit_code == 0 and after.output.startswith("1\n")
    assert "sleep 300" not in after.output


def test_output_past_the_cap_keeps_head_and_tail_and_says_how_much_was_cut(docker_engine):
    with sandbox(output_bytes=1000) as capped:
        result = capped.execute("echo FIRST; head -c 200000 /dev/zero | tr '\\0' a; echo; echo LAST")
    assert result.truncated and result.exit_code == 0
    assert result.output.startswith("FIRST\n") and result.output.endswith("LAST\n")
    assert "bytes of output cut" in result.output and len(result.output) < 1300
    assert "199" in result.output.split("bytes of output cut")[0][-20:]


def test_output_that_imitates_the_end_marker_does_not_end_the_command(box):
    # Every value the command can see, printed in the marker's shape, then a real exit code.
    spoof = ('for v in $(compgen -v); do printf "\\n%s:0:0\\n" "${!v}"; done; '
             'printf "\\n$1:0:0\\n"; sleep 0.3; echo still-running; exit 7')
    result = box.execute(spoof)
    assert result.exit_code == 7
    assert result.output.rstrip().endswith("still-running")


def test_output_that_is_not_utf8_is_kept_with_replacement_characters(box):
    result = box.execute("printf 'a\\xff\\xfeb\\n'; printf '\\x80'")
    assert result.exit_code == 0 and result.output.startswith("a") and "b\n" in result.output
    assert "\ufffd" in result.output
    assert box.execute("echo fine").output == "fine\n"


def test_a_command_that_reads_stdin_gets_end_of_file_instead_of_hanging(box):
    result = box.execute("read -r line; echo read=$?; cat; python3 -c 'input()'", timeout_s=20)
    assert result.exit_code != 124 and "read=1" in result.output and "EOFError" in result.output
    assert box.execute("echo next").output == "next\n"


def test_a_fork_bomb_is_contained_while_a_neighbour_sandbox_keeps_working(docker_engine):
    with sandbox(pids=64) as bombed, sandbox() as neighbour:
        outcome: list[object] = []

        def bomb() -> None:
            try:
                outcome.append(bombed.execute(":(){ :|:& };:", timeout_s=8))
            except SandboxGone as exc:
                outcome.append(exc)

        thread = threading.Thread(target=bomb)
        thread.start()
        answers = [neighbour.execute(f"echo {i}").output for i in range(20)]
        host = subprocess.run(["true"], check=False).returncode
        thread.join(timeout=60)
        assert answers == [f"{i}\n" for i in range(20)] and host == 0
        assert len(outcome) == 1
        ended = outcome[0]
        assert isinstance(ended, SandboxGone) or (isinstance(ended, ExecResult) and ended.timed_out)
        if isinstance(ended, ExecResult):
            assert bombed.execute("echo survived").output == "survived\n"


def test_a_fork_bomb_in_a_guarded_sandbox_is_killed_at_the_pids_limit_and_ends_it(docker_engine):
    with sandbox(guard=True, pids=64) as bombed:
        start = time.monotonic()
        with pytest.raises(SandboxGone, match=r"process limit \(pids=64; \d+ forks refused"):
            bombed.execute(":(){ :|:& };:", timeout_s=120)
        assert time.monotonic() - start < 20  # not the 120 s timeout
        with pytest.raises(SandboxGone, match="process limit"):
            bombed.execute("echo after")
        assert bombed.container is None  # removed, with every process of the bomb


def test_a_fork_bomb_left_running_in_its_own_session_ends_a_guarded_sandbox_at_the_next_call(
        docker_engine):
    with sandbox(guard=True, pids=64) as bombed:
        started = bombed.execute("setsid bash -c 'sleep 1; :(){ :|:& };:' > /dev/null 2>&1 & "
                                 "echo started")
        assert started.output == "started\n"
        time.sleep(3)
        start = time.monotonic()
        with pytest.raises(SandboxGone, match="an earlier command left running reached the "
                                              "process limit"):
            bombed.execute("echo next", timeout_s=120)
        assert time.monotonic() - start < 10


@pytest.mark.parametrize("command, reason", [
    ("rm -rf --no-preserve-root /", "state folder"),
    ("rm -rf /dev/shm/.swegc-shell", "state folder"),
    ("rm \"$(command -v base64)\"", "base64, a tool the sandbox runs on"),
])
def test_a_command_that_removes_what_a_guarded_sandbox_runs_on_ends_it(docker_engine, command,
                                                                      reason):
    with sandbox(guard=True) as broken:
        with pytest.raises(SandboxGone, match=reason):
            broken.execute(command, timeout_s=120)
        with pytest.raises(SandboxGone):
            broken.execute("ls")


def test_a_guarded_sandbox_keeps_serving_busy_but_sound_commands(docker_engine):
    with sandbox(guard=True, pids=64) as box:
        box.execute("cd /tmp && export KEPT=1")
        forks = box.execute("for i in $(seq 30); do sleep 1 & done; wait; echo done", timeout_s=30)
        assert (forks.exit_code, forks.output) == (0, "done\n")
        slow = box.execute("sleep 300", timeout_s=1)
        assert slow.exit_code == 124 and 1 <= slow.duration_s < 3
        sleeper = box.execute("sleep 0.7; echo woke", timeout_s=30)  # past a few watch slices
        assert sleeper.output == "woke\n" and sleeper.exit_code == 0
        box.execute("rm -rf /tmp/scratch && mkdir /tmp/scratch && rm -r /tmp/scratch")
        assert box.execute('pwd; echo "$KEPT"').output == "/tmp\n1\n"


def test_an_unguarded_sandbox_at_the_pids_limit_only_has_its_forks_refused(docker_engine):
    with sandbox(pids=64) as box:
        result = box.execute("for i in $(seq 100); do sleep 3 & done 2>/dev/null; wait; echo held",
                             timeout_s=60)
        assert result.exit_code == 0 and result.output.endswith("held\n")
        assert box.execute("echo alive").output == "alive\n"


def test_removing_everything_inside_leaves_the_image_untouched(docker_engine):
    with sandbox() as doomed:  # unguarded: the shell goes on answering, without its tools
        doomed.execute("rm -rf / --no-preserve-root", timeout_s=120)
        assert doomed.execute("test -e /usr/bin/python3").exit_code != 0
    with sandbox() as fresh:
        result = fresh.execute("test -x /usr/bin/python3 && test -x /usr/bin/git && echo intact")
        assert result.output == "intact\n"


def test_writing_past_the_disk_limit_ends_the_sandbox(docker_engine):
    with sandbox(disk="100m") as filled:
        assert filled.execute("head -c 20M /dev/zero > /tmp/ok").exit_code == 0
        with pytest.raises(SandboxGone, match="disk"):
            filled.execute("for i in 1 2 3 4 5 6 7; do head -c 30M /dev/zero > /tmp/f$i; done; "
                           "sleep 10", timeout_s=60)
        with pytest.raises(SandboxGone):
            filled.execute("echo gone")


def test_one_file_cannot_grow_past_the_disk_limit(docker_engine):
    with sandbox(disk="50m") as filled:
        try:
            result = filled.execute("head -c 80M /dev/zero > /tmp/big; echo $?; ls -l /tmp/big")
        except SandboxGone:
            return  # the watcher saw it first: also contained
        assert "52428800" in result.output


def test_the_network_is_unreachable_unless_the_limits_allow_it(box):
    result = box.execute("python3 -c \"import socket; socket.create_connection(('1.1.1.1', 53), 3)\"",
                         timeout_s=30)
    assert result.exit_code != 0 and "OSError" in result.output


def test_using_more_memory_than_the_limit_ends_the_sandbox_not_the_host(docker_engine):
    with sandbox(memory="128m") as hungry:
        with pytest.raises(SandboxGone, match="memory"):
            hungry.execute("python3 -c \"b = b'x' * (1024 * 1024 * 1024); print(len(b))\"",
                           timeout_s=60)
        hungry.close()
    assert subprocess.run(["true"], check=False).returncode == 0


def test_a_killed_shell_raises_sandbox_gone_and_the_sandbox_still_closes(docker_engine):
    box = sandbox()
    with pytest.raises(SandboxGone):
        box.execute("kill -9 $$")
    with pytest.raises(SandboxGone):
        box.execute("true")
    box.close()
    box.close()


def test_files_written_and_read_back_keep_bytes_and_existing_folder_modes(box):
    box.write_file("/tmp/deep/er/x.bin", b"\x00\xffdata")
    assert box.read_file("/tmp/deep/er/x.bin") == b"\x00\xffdata"
    assert box.execute("stat -c %a /tmp").output.strip() == "1777"
    box.write_file("top.txt", b"relative\n")
    assert box.execute("cat /testbed/top.txt").output == "relative\n"
    with pytest.raises(FileNotFoundError):
        box.read_file("/tmp/missing")


def test_small_and_large_files_both_round_trip_whichever_way_they_travel(box):
    from swegc.runtime.sandbox.docker_shell import SHELL_WRITE_BYTES

    small = bytes(range(256)) * 4  # through the shell
    large = os.urandom(SHELL_WRITE_BYTES * 3)  # through the engine's archive endpoint
    box.write_file("/tmp/files/small.bin", small)
    box.write_file("/tmp/files/large.bin", large)
    assert box.read_file("/tmp/files/small.bin") == small
    assert box.read_file("/tmp/files/large.bin") == large
    box.write_file("/tmp/files/small.bin", b"shorter")  # overwritten, not appended
    assert box.read_file("/tmp/files/small.bin") == b"shorter"
    assert box.execute("stat -c %a /tmp/files/small.bin").output.strip() == "644"
    with pytest.raises(IsADirectoryError):
        box.read_file("/tmp/files")
    assert box.read_file("/proc/self/comm")  # not a regular file: read through the archive


def test_diff_has_new_untracked_and_binary_changes_and_applies_to_head(box):
    setup = ("git init -q . && git config user.email t@example.com && git config user.name t && "
             "printf 'one\\n' > a.txt && printf '\\x00\\x01' > blob.bin && "
             "git add -A && git commit -qm base")
    assert box.execute(setup, cwd="/testbed").exit_code == 0
    box.execute("cd /testbed && printf 'two\\n' >> a.txt && printf '\\x00\\x02\\x03' > blob.bin && "
                "mkdir -p new && printf 'fresh\\n' > new/file.txt")
    patch = box.diff()
    assert "new/file.txt" in patch and "GIT binary patch" in patch and "+two" in patch
    assert box.execute("git diff --cached --name-only").output == ""  # the index is untouched
    box.write_file("/tmp/agent.patch", patch.encode())
    check = box.execute("git stash -u -q && git apply --binary /tmp/agent.patch && "
                        "cat a.txt new/file.txt && od -An -tx1 blob.bin")
    assert check.exit_code == 0, check.output
    assert check.output.split() == ["one", "two", "fresh", "00", "02", "03"]


def test_sandbox_containers_carry_the_names_and_labels_orphan_cleanup_looks_for(box, docker_engine):
    container = docker_engine.containers.get(box.container.id)
    assert container.name.startswith("swegc-sandbox-")
    assert container.labels["org.swegc.sandbox"] == "1"
    assert container.labels["org.swegc.test"] == "sandbox"
    config = container.attrs["HostConfig"]
    assert config["NetworkMode"] == "none" and config["PidsLimit"] == 128
    assert config["Memory"] == config["MemorySwap"] == 256 * 1024 * 1024


def test_a_build_sandbox_commits_its_files_into_an_image_without_sandbox_settings(docker_engine):
    from docker.types import Mount

    from swegc.runtime.sandbox import UNLIMITED
    from swegc.runtime.sandbox.docker_shell import DockerShellSandbox

    with DockerShellSandbox(BASE, UNLIMITED, workdir="/", init=False, role="build",
                            mounts=[Mount("/swegc/in", "/etc", type="bind", read_only=True)]) as box:
        assert box.execute("test -f /swegc/in/hostname && echo built > /made").exit_code == 0
        image = box.commit("swegc-sandbox-test", "commit", ['CMD ["bash"]', 'LABEL org.swegc.test="1"'])
    try:
        config = image.attrs["Config"]
        assert not config["OpenStdin"] and config["Cmd"] == ["bash"]
        assert config["Labels"]["org.swegc.test"] == "1" and "org.swegc.sandbox" not in config["Labels"]
        with DockerShellSandbox(image.id, SMALL, init=False) as fresh:  # no init mounted now
            assert fresh.execute("cat /made; ls /swegc/in 2>&1 | head -1").output.startswith("built\n")
            assert fresh.execute("test -e /usr/sbin/docker-init || echo no-init").output == "no-init\n"
    finally:
        docker_engine.images.remove(image.id, force=True)
