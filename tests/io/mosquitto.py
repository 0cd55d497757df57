"""A real mosquitto broker for tests: started, stopped and restarted by the tests themselves."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import aiomqtt
import pytest

if TYPE_CHECKING:
    from cryptography.x509 import GeneralName


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Mosquitto:
    """One broker on 127.0.0.1 with persistence, optionally with passwords and TLS."""

    def __init__(
        self,
        workdir: Path,
        *,
        users: dict[str, str] | None = None,
        tls: tuple[Path, Path, Path] | None = None,
    ) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            pytest.fail("mosquitto is not installed (apt-get install mosquitto)")
        self.exe = exe
        self.workdir = workdir
        self.port = free_port()
        (workdir / "db").mkdir(exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {workdir / 'db'}/",
            "autosave_interval 1",
        ]
        if os.geteuid() == 0:
            # as root mosquitto drops to its own user, which cannot read the test's 0700 tmp dir
            lines.append("user root")
        if users:
            pw = workdir / "passwd"
            pw.write_text("")
            for user, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(pw), user, password], check=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if tls:
            ca, cert, key = tls
            lines += [f"cafile {ca}", f"certfile {cert}", f"keyfile {key}"]
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self._started = False

    def start(self) -> None:
        """Start the broker and return once it accepts connections on :attr:`port`.

        :func:`free_port` releases the port it found, so another process may take it before
        mosquitto binds it: a broker that exits before it listens is started again on a new
        port (the configuration is rewritten), up to three times. A restart keeps its port:
        the test's clients reconnect to it.
        """
        attempts = 1 if self._started else 3
        self._started = True
        for _attempt in range(attempts):
            with (self.workdir / "mosquitto.log").open("ab") as log:
                self.proc = subprocess.Popen(
                    [self.exe, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
                )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                        return
                time.sleep(0.05)
            if self.proc.poll() is None or _attempt + 1 == attempts:
                break  # alive but not listening after 10 s, or no attempt left
            old, self.port = self.port, free_port()  # lost the port: try another one
            self.conf.write_text(
                self.conf.read_text().replace(f"listener {old} ", f"listener {self.port} ")
            )
        self.stop()
        raise TimeoutError(f"mosquitto did not start (see {self.workdir / 'mosquitto.log'})")

    def stop(self) -> None:
        """Stop the broker: SIGTERM, and SIGKILL if it has not exited 5 s later."""
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


class Listener:
    """Everything published under a session, with the wall time it arrived."""

    def __init__(self, port: int, session: str) -> None:
        self.port, self.session = port, session
        self.got: list[tuple[float, bytes]] = []
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port, identifier="consent-listener") as c:
            await c.subscribe(f"wearsdk/{self.session}/#", qos=1)
            self.ready.set()
            async for m in c.messages:
                assert isinstance(m.payload, bytes)
                self.got.append((time.time(), m.payload))


@contextlib.asynccontextmanager
async def listening(port: int, session: str) -> AsyncIterator[Listener]:
    """A :class:`Listener` subscribed (ready) for the block, stopped when it is left."""
    listener = Listener(port, session)
    task = asyncio.create_task(listener.run())
    try:
        await asyncio.wait_for(listener.ready.wait(), 10)
        yield listener
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def make_test_ca(
    workdir: Path, names: tuple[str, ...] = ("localhost", "127.0.0.1")
) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for ``names`` (host names or IP addresses)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wearsdk test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([_san(n) for n in names]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    workdir.mkdir(parents=True, exist_ok=True)
    paths = (workdir / "ca.pem", workdir / "server.pem", workdir / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return paths


def _san(name: str) -> GeneralName:
    import ipaddress

    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)
