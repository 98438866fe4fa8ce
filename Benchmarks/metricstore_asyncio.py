"""The MetricStore protocol as a straightforward Python asyncio server, written from the
protocol description in the shape its authors suggest (an asyncio.Protocol whose
data_received splits lines and answers each): the peer of the MetricStore benchmark rows.

    python3 Benchmarks/metricstore_asyncio.py    # prints "port N", serves until stdin closes
"""
import asyncio
import math
import sys

storage = {}  # key -> {timestamp: value}; dicts keep first-insertion order


def answer(line):
    parts = line.strip().split()
    if len(parts) == 4 and parts[0] == "put" and parts[1] != "*":
        try:
            value = float(parts[2])
            timestamp = int(parts[3])
        except ValueError:
            return "error\nwrong command\n\n"
        if not math.isfinite(value) or parts[2].lower().startswith(("0x", "+0x", "-0x")):
            return "error\nwrong command\n\n"
        storage.setdefault(parts[1], {})[timestamp] = value
        return "ok\n\n"
    if len(parts) == 2 and parts[0] == "get":
        keys = storage.keys() if parts[1] == "*" else ([parts[1]] if parts[1] in storage else [])
        lines = []
        for key in keys:
            for timestamp in sorted(storage[key]):
                lines.append(f"{key} {storage[key][timestamp]} {timestamp}\n")
        return "ok\n" + "".join(lines) + "\n"
    return "error\nwrong command\n\n"


class MetricProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        if lines:
            self.transport.write("".join(answer(line.decode("utf-8", "replace")) for line in lines).encode())


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(MetricProtocol, "127.0.0.1", 0)
    print("port", server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


asyncio.run(main())
