"""`toxbridge run` on a real terminal: a real pty harness, the real CLI, a real server and
real tox, warm and cold. What a user does at a terminal: pdb, breakpoint(), input(),
resizing, ^C in pdb, two ^C, SIGTERM, ^Z in an interactive shell, `tox p`'s spinner."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import termios

from tests.conftest import RunningServer, toxbridge
from tests.terminal.conftest import client_env, run_on_terminal
from tests.terminal.harness import Terminal, wait_gone, wait_state

TEARDOWN = b"KeyboardInterrupt - teardown started"  # tox's line when it got the ^C


def test_pdb_stops_at_the_failure_and_a_ctrl_c_there_interrupts_only_pdb(
    tty_server: RunningServer,
) -> None:
    with run_on_terminal(tty_server, "-e", "py", "--", "test_debug.py", "--pdb") as term:
        term.expect("(Pdb) ")
        term.send("p x\r")
        term.expect(rb"\n41\r?\r\n")
        term.send(b"\x03")  # ^C at pdb's prompt: pdb's, not the run's
        term.expect("--KeyboardInterrupt--")
        term.expect("(Pdb) ")
        term.send("p x + 1\r")
        term.expect("42")
        term.send("c\r")
        term.expect("1 failed")
        code = term.wait()
    assert code == 1  # tox's own code for a failing test
    assert TEARDOWN not in term.output


def test_breakpoint_in_a_test(warm_server: RunningServer) -> None:
    with run_on_terminal(warm_server, "-e", "py", "--", "test_break.py") as term:
        term.expect("(Pdb) ")
        term.send("p y\r")
        term.expect("'here'")
        term.send("c\r")
        term.expect("1 passed")
        assert term.wait() == 0


def test_input_in_a_test(warm_server: RunningServer) -> None:
    with run_on_terminal(warm_server, "-e", "py", "--", "-s", "test_input.py") as term:
        term.expect("answer? ")
        term.send("forty-two\r")
        term.expect("you said forty-two!")
        assert term.wait() == 0


def test_the_remote_program_sees_a_terminal_of_our_size_and_our_resize(
    tty_server: RunningServer,
) -> None:
    argv = ("-e", "py", "--", "-s", "test_resize.py")
    with run_on_terminal(tty_server, *argv, rows=24, cols=80) as term:
        term.expect("size 24x80, waiting for SIGWINCH")
        term.resize(40, 132)  # SIGWINCH to the CLI, which resizes the remote terminal
        term.expect("resized to 40x132")
        assert term.wait() == 0


def test_tox_p_spinner_frames_arrive_as_redraws(warm_server: RunningServer) -> None:
    with run_on_terminal(warm_server, "p", "-e", "a,b") as term:
        code = term.wait()
    frames = re.findall(rb"\r\x1b\[K\r(\S+) \[\d/2\]", term.output)
    assert code == 0
    assert len(set(frames)) >= 3, term.tail()  # distinct spinner characters, redrawn in place


def test_stdin_and_stdout_of_tox_are_terminals(warm_server: RunningServer) -> None:
    with run_on_terminal(warm_server, "-e", "ask") as term:
        term.expect("stdin tty True, stdout tty True")
        term.expect("name? ")
        term.send("Ada\r")
        term.expect("hello Ada")
        assert term.wait() == 0


def test_two_ctrl_c_leave_at_once_cancel_the_run_and_restore_the_terminal(
    tty_server: RunningServer,
) -> None:
    with run_on_terminal(tty_server, "-e", "wait") as term:
        pid = int(term.expect(rb"waiting pid=(\d+)").group(1))
        assert not term.attributes()[3] & termios.ICANON  # raw while the run is on
        term.send(b"\x03")
        term.send(b"\x03")
        code = term.wait()
        attributes = term.attributes()
    assert code == 130
    assert b"two ^C: cancelled the remote run" in term.output
    assert attributes == term.initial
    wait_gone(pid)  # the remote tree is cancelled, not left waiting for input


def test_sigterm_restores_the_terminal(warm_server: RunningServer) -> None:
    with run_on_terminal(warm_server, "-e", "wait") as term:
        pid = int(term.expect(rb"waiting pid=(\d+)").group(1))
        term.process.send_signal(signal.SIGTERM)
        code = term.wait()
        attributes = term.attributes()
    assert code == 128 + signal.SIGTERM
    assert attributes == term.initial
    wait_gone(pid)


def test_ctrl_z_in_an_interactive_shell_stops_both_sides_and_fg_continues_both(
    tty_server: RunningServer,
) -> None:
    env = {**client_env(), "PS1": "PROMPT$ "}
    shell = ["bash", "--norc", "--noprofile", "-i"]
    with Terminal.spawn(shell, env=env) as term:
        term.expect("PROMPT$ ")
        term.send(" ".join(toxbridge("run", *tty_server.client_args(), "-e", "wait")) + "\r")
        pid = int(term.expect(rb"waiting pid=(\d+)").group(1))
        term.send(b"\x1a")  # ^Z
        term.expect("Stopped")
        term.expect("PROMPT$ ")  # the shell has its prompt back...
        wait_state(pid, "T")  # ...and the remote program is stopped meanwhile
        term.send("fg\r")
        term.send("hello\r")  # typed for the remote program, after `fg`
        term.expect("got hello")
        term.expect("PROMPT$ ")
        term.send("echo status=$?\r")
        term.expect("status=0")
        term.send("exit\r")
        term.wait()


def test_stdin_not_forwarded_is_said_once_when_stdin_is_a_terminal_and_stdout_is_not(
    warm_server: RunningServer,
) -> None:
    master, slave = os.openpty()
    try:
        done = subprocess.run(
            toxbridge("run", *warm_server.client_args(), "-e", "ask"),
            stdin=slave,
            capture_output=True,
            env=client_env(),
            timeout=60,
            check=False,
        )
    finally:
        os.close(slave)
        os.close(master)
    notice = b"toxbridge: stdin is not forwarded (stdout is not a terminal; --tty forwards it)\n"
    assert done.stderr.count(notice) == 1
    assert b"stdin tty False, stdout tty False" in done.stdout  # pipes, as before


def test_no_tty_says_stdin_is_not_forwarded(warm_server: RunningServer) -> None:
    with run_on_terminal(warm_server, "--no-tty", "-e", "ask") as term:
        term.expect("stdin is not forwarded (--no-tty; --tty forwards it)")
        term.expect("stdin tty False, stdout tty False")
        assert term.wait() == 0


def test_pipes_say_nothing_about_stdin(warm_server: RunningServer) -> None:
    done = subprocess.run(
        toxbridge("run", *warm_server.client_args(), "-e", "ask"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=client_env(),
        timeout=60,
        check=False,
    )
    assert b"stdin" not in done.stderr
    assert b"stdin tty False, stdout tty False" in done.stdout


def test_tty_forced_from_a_pipe_forwards_it_then_its_end(warm_server: RunningServer) -> None:
    done = subprocess.run(
        toxbridge("run", *warm_server.client_args(), "--tty", "-e", "ask"),
        input=b"Bob\n",
        capture_output=True,
        env=client_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert b"stdin tty True, stdout tty True" in done.stdout
    assert b"hello Bob" in done.stdout


def test_tty_forced_from_a_file_says_it_is_not_forwarded_and_sends_its_end(
    warm_server: RunningServer,
) -> None:
    done = subprocess.run(
        toxbridge("run", *warm_server.client_args(), "--tty", "-e", "wait"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=client_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0  # the remote program read the end of its input, not nothing
    assert b"got \r" in done.stdout
    assert done.stderr == (
        b"toxbridge: stdin is not forwarded (stdin is a file, not a terminal or a pipe)\n"
    )


def test_an_error_mid_run_restores_the_terminal(warm_server: RunningServer) -> None:
    """The server dies (SIGKILL) under a tty run: the client's error path, not a clean end."""
    with run_on_terminal(warm_server, "--liveness", "2", "-e", "wait") as term:
        term.expect(rb"waiting pid=\d+")
        warm_server.process.kill()
        code = term.wait()
        attributes = term.attributes()
    assert code == 122  # toxbridge's own failure: the connection was lost
    assert b"stopped answering" in term.output
    assert attributes == term.initial
