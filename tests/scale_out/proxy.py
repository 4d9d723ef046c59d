"""A tiny TCP reverse proxy for tests: spreads connections over several backends, as a load balancer does.

Plain HTTP connections go to the backends in turn; websocket connections to Reflex's ``/_event`` do too, on a
counter of their own, so successive page loads of one browser are served by different backends. The proxy
records which backend each websocket went to.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading


class RoundRobinProxy:
    def __init__(self, backends: list[int], host: str = "127.0.0.1") -> None:
        self.backends, self.host = backends, host
        self.websockets: list[int] = []  # backend port of each websocket, in order
        self._http = itertools.cycle(backends)
        self._ws = itertools.cycle(backends)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0

    def __enter__(self) -> RoundRobinProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, self.host, 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.read(65536)
            if not head:
                return
            if head.startswith(b"GET /_event"):
                port = next(self._ws)
                self.websockets.append(port)
            else:
                port = next(self._http)
            upstream_reader, upstream_writer = await asyncio.open_connection(self.host, port)
            upstream_writer.write(head)
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()
