"""Warm tox: a worker with tox imported forks each run, instead of exec-ing tox anew.

`WarmTox.start` offers what `ChildProcess.start` offers and yields a `ChildProcess`, so
reading, waiting and stopping (SIGINT → SIGTERM → SIGKILL to the group) are the cold
path's own code. Only the way the process comes to life differs: the worker
(`toxbridge.process.warm.worker`) forks a child that becomes a session leader, takes this
server's pipes (passed with SCM_RIGHTS) as stdout and stderr, and runs tox's entry
point. The worker reports the child's pid and exit status, since it is the parent.

A run goes cold instead when the worker cannot be used: variables the interpreter reads
at start-up differ from the worker's, or the worker fails to start. The worker is
replaced when it has died, or when tox's configuration or the installed packages
(the site-packages directories) changed since it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import site
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toxbridge.process.child import ChildProcess, StopPolicy, output_pipe
from toxbridge.process.pty import Pty, start_child

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0
MAX_FAILURES = 3  # then stay cold: a worker that cannot start should not tax every run
CONFIG_FILES = ("tox.ini", "tox.toml", "pyproject.toml", "setup.cfg", "toxfile.py")
STARTUP_PREFIXES = ("PYTHON", "LC_")  # read once by the interpreter when it starts
STARTUP_NAMES = ("LANG", "LANGUAGE")

Fingerprint = tuple[tuple[str, int | None], ...]


class WorkerLost(OSError):
    """The worker died or broke the protocol: tox could not be started this way."""


def fingerprint(root: str) -> Fingerprint:
    """What a worker's imports and a run's configuration depend on, as mtimes."""
    paths = [os.path.join(root, name) for name in CONFIG_FILES]
    paths += site.getsitepackages()
    paths.append(site.getusersitepackages())
    return tuple((path, _mtime(path)) for path in paths)


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def startup_env(env: Mapping[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in env.items()
        if name.startswith(STARTUP_PREFIXES) or name in STARTUP_NAMES
    }


class WarmTox:
    """Owns the worker; `async with` it around the server, `start` a child per run."""

    def __init__(self, root: str, command: Sequence[str] = (sys.executable, "-m", "tox")):
        self.root = root
        self.command = tuple(command)
        self.env = dict(os.environ)
        self._worker: Worker | None = None
        self._starting: asyncio.Task[Worker] | None = None
        self._failures = 0

    async def __aenter__(self) -> WarmTox:
        self._starting = asyncio.create_task(self._spawn())  # the first run need not wait
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        starting, self._starting = self._starting, None
        if starting is not None:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError, WorkerLost):
                self._worker = await starting
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.close()

    @contextlib.asynccontextmanager
    async def start(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        policy: StopPolicy | None = None,
        pty: Pty | None = None,
    ) -> AsyncIterator[ChildProcess]:
        """Run tox with `args` in the root, warm when possible; the cold path's guarantees.
        With `pty`, tox's stdin, stdout and stderr are its slave (see `process.pty`)."""
        writes: tuple[int, ...]
        if pty is None:
            out_read, out_write = output_pipe()
            err_read, err_write = output_pipe()
            reads, writes = [out_read, err_read], (out_write, err_write)
        else:
            assert pty.slave is not None  # noqa: S101 (a fresh pty)
            reads, writes = [os.dup(pty.master)], (pty.slave,)
        process: WarmProcess | None = None
        try:
            process = await self._fork(args, env, writes)
        finally:
            if pty is None:
                for fd in writes:
                    os.close(fd)
            elif process is not None:
                pty.close_slave()
            if process is None:
                for fd in reads:
                    os.close(fd)
        if process is None:
            command = [*self.command, *args]
            async with start_child(
                command, cwd=self.root, env=env, policy=policy, pty=pty
            ) as child:
                yield child
            return
        stderr = reads[1] if len(reads) > 1 else None
        async with ChildProcess.adopt(process, reads[0], stderr, policy) as child:
            yield child

    async def _fork(
        self, args: Sequence[str], env: Mapping[str, str], fds: tuple[int, ...]
    ) -> WarmProcess | None:
        """Hand the run to a worker, or None for a cold run. Nothing has started when a
        worker is found lost (one that died idle, its exit not seen yet): a fresh worker
        then costs less than a cold run."""
        for attempt in ("starting another", "this run is cold"):
            worker = await self._usable_worker(env)
            if worker is None:
                return None
            try:
                return await worker.fork(args, self.root, env, fds)
            except WorkerLost as error:
                log.warning("warm tox worker lost (%s): %s", error, attempt)
        return None

    def worker_pids(self) -> tuple[int, ...]:
        """The worker's pid, if one runs: the server's child, not a run's."""
        return (self._worker.pid,) if self._worker is not None else ()

    async def _usable_worker(self, env: Mapping[str, str]) -> Worker | None:
        if startup_env(env) != startup_env(self.env):
            log.info("interpreter start-up variables differ from the warm worker's: cold run")
            return None
        if self._failures >= MAX_FAILURES:
            return None
        if self._starting is not None:
            starting, self._starting = self._starting, None
            try:
                self._worker = await starting
            except (OSError, WorkerLost) as error:
                self._failed(error)
        worker = self._worker
        if worker is not None and (not worker.alive() or worker.fingerprint != self._now()):
            log.info("warm tox worker %d is stale or gone: replacing it", worker.pid)
            self._worker = None
            await worker.close()
        if self._worker is None:
            try:
                self._worker = await self._spawn()
            except (OSError, WorkerLost) as error:
                self._failed(error)
                return None
        self._failures = 0
        return self._worker

    def _failed(self, error: BaseException) -> None:
        self._failures += 1
        log.warning("warm tox worker failed to start (%s): this run is cold", error)

    def _now(self) -> Fingerprint:
        return fingerprint(self.root)

    async def _spawn(self) -> Worker:
        return await Worker.spawn(self.root, self.env, self._now())


class Worker:
    """One `toxbridge.process.warm.worker` process and its end of the socket pair."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        channel: socket.socket,
        fingerprint: Fingerprint,
    ) -> None:
        self.process = process
        self.channel = channel
        self.fingerprint = fingerprint
        self.pid = process.pid
        self._stderr = asyncio.create_task(self._log_output())
        self._lost = False

    @classmethod
    async def spawn(cls, root: str, env: Mapping[str, str], print_: Fingerprint) -> Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "toxbridge.process.warm.worker",
                str(theirs.fileno()),
                str(os.getpid()),
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                # pipes, like a cold tox's: the interpreter sets sys.std* up the same way
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=root,
                env=dict(env),
                start_new_session=True,  # a ^C at the server's terminal is not for it
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        worker = cls(process, ours, print_)
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                ready = await worker.receive()
        except BaseException:
            await worker.close()
            raise
        if not ready.get("ready"):
            await worker.close()
            raise WorkerLost(f"unexpected first message {ready!r}")
        log.info("warm tox worker %d ready", worker.pid)
        return worker

    def alive(self) -> bool:
        return self.process.returncode is None and not self._lost

    async def fork(
        self, args: Sequence[str], cwd: str, env: Mapping[str, str], fds: tuple[int, ...]
    ) -> WarmProcess:
        """Hand a run to the worker: `fds` are tox's stdout and stderr, or one terminal.
        WorkerLost: nothing started, the run may go cold."""
        fields = {"args": list(args), "env": dict(env), "cwd": cwd, "tty": len(fds) == 1}
        request = json.dumps(fields).encode()
        try:
            socket.send_fds(self.channel, [request], list(fds))
        except OSError as error:  # dead worker, or a request too large for one packet
            self._lost = True
            message = f"cannot hand the run to warm tox worker {self.pid}: {error}"
            raise WorkerLost(message) from error
        try:
            reply = await self.receive()
        except BaseException as error:
            self._lost = True  # a pid may still come: the next run must not read it
            if isinstance(error, WorkerLost):
                # tox may have started: running it again cold could run it twice
                raise OSError(f"warm tox worker died while starting tox: {error}") from error
            raise
        pid = reply.get("pid")
        if not isinstance(pid, int):
            self._lost = True
            raise OSError(f"warm tox worker {self.pid} answered {reply!r}")
        return WarmProcess(pid, self)

    async def receive(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        data = await loop.sock_recv(self.channel, 1 << 16)
        if not data:
            self._lost = True
            raise WorkerLost(f"warm tox worker {self.pid} exited")
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self._lost = True
            raise WorkerLost(f"warm tox worker {self.pid} sent {data[:100]!r}")
        return message

    async def close(self) -> None:
        self.channel.close()  # the worker exits on EOF; it holds no run when we close it
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        await self._stderr

    async def _log_output(self) -> None:
        if self.process.stdout is None:
            return
        async for line in self.process.stdout:
            log.warning("warm tox worker %d: %s", self.pid, line.decode(errors="replace").rstrip())


@dataclass
class WarmProcess:
    """The forked tox as `ChildProcess` sees a process: pid, returncode and wait()."""

    pid: int
    worker: Worker
    returncode: int | None = None
    _status: asyncio.Task[int] | None = field(default=None, init=False)

    async def wait(self) -> int:
        if self._status is None:
            self._status = asyncio.create_task(self._receive_status())
        return await asyncio.shield(self._status)

    async def _receive_status(self) -> int:
        try:
            reply = await self.worker.receive()
            code = int(reply["status"])
        except (WorkerLost, OSError, KeyError, ValueError) as error:
            code = await self._orphaned(error)
        self.returncode = code
        return code

    async def _orphaned(self, error: BaseException) -> int:
        """The worker is gone; this server (the subreaper) adopts and reaps the child."""
        log.error("warm tox worker lost during a run (%s): killing the run", error)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            return -signal.SIGKILL  # already reaped by the worker: its status is lost
        try:
            loop = asyncio.get_running_loop()
            exited = loop.create_future()
            loop.add_reader(pidfd, lambda: None if exited.done() else exited.set_result(None))
            try:
                await exited
            finally:
                loop.remove_reader(pidfd)
        finally:
            os.close(pidfd)
        try:
            _, status = os.waitpid(self.pid, os.WNOHANG)  # noqa: ASYNC222 (it has exited)
        except ChildProcessError:
            return -signal.SIGKILL
        return os.waitstatus_to_exitcode(status)
