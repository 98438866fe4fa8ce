"""The FastSlow server as a straightforward Python asyncio server using the reference
`protobuf` package: the peer of the FastSlow benchmark rows.

    python3 -m venv .build-venv && .build-venv/bin/pip install protobuf
    .build-venv/bin/python Benchmarks/fastslow_asyncio.py   # prints "port N", serves until stdin closes

The message classes come from a descriptor written out from Sources/FastSlow/fastslow.proto
(no protoc needed); framing is protobuf's own varint32 size prefix.
"""
import asyncio
import datetime
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.internal import decoder, encoder
from google.protobuf.message import DecodeError

F = descriptor_pb2.FieldDescriptorProto


def wrapper_class():
    file = descriptor_pb2.FileDescriptorProto(name="fastslow.proto", package="TestTask.Messages", syntax="proto2")
    for name, fields in [
        ("WrapperMessage", [(1, "fast_response", "FastResponse"), (2, "slow_response", "SlowResponse"),
                            (3, "request_for_fast_response", "RequestForFastResponse"),
                            (4, "request_for_slow_response", "RequestForSlowResponse")]),
        ("FastResponse", [(1, "current_date_time", F.TYPE_STRING)]),
        ("SlowResponse", [(1, "connected_client_count", F.TYPE_UINT32)]),
        ("RequestForFastResponse", []),
        ("RequestForSlowResponse", [(1, "time_in_seconds_to_sleep", F.TYPE_UINT32)]),
    ]:
        message = file.message_type.add(name=name)
        for number, field_name, kind in fields:
            if isinstance(kind, str):
                message.field.add(name=field_name, number=number, label=F.LABEL_OPTIONAL, type=F.TYPE_MESSAGE,
                                  type_name=".TestTask.Messages." + kind)
            else:
                message.field.add(name=field_name, number=number, label=F.LABEL_REQUIRED, type=kind)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("TestTask.Messages.WrapperMessage"))


Wrapper = wrapper_class()
clients = 0


def delimited(message):
    body = message.SerializeToString()
    return encoder._VarintBytes(len(body)) + body


class FastSlowProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        global clients
        clients += 1
        self.transport = transport
        self.buffer = b""
        self.open = True

    def connection_lost(self, exc):
        global clients
        clients -= 1
        self.open = False

    def data_received(self, data):
        self.buffer += data
        while self.buffer:
            try:
                size, start = decoder._DecodeVarint32(self.buffer, 0)
            except IndexError:
                return  # the prefix is incomplete
            if len(self.buffer) < start + size:
                return
            body, self.buffer = self.buffer[start:start + size], self.buffer[start + size:]
            request = Wrapper()
            try:
                request.ParseFromString(body)
            except DecodeError:
                self.transport.close()
                return
            if request.HasField("request_for_fast_response"):
                answer = Wrapper()
                now = datetime.datetime.now()
                answer.fast_response.current_date_time = now.strftime("%Y%m%dT%H%M%S.") + "%03d" % (now.microsecond // 1000)
                self.transport.write(delimited(answer))
            elif request.HasField("request_for_slow_response"):
                answer = Wrapper()
                answer.slow_response.connected_client_count = clients
                asyncio.get_running_loop().call_later(request.request_for_slow_response.time_in_seconds_to_sleep, self.send, answer)
            else:
                self.transport.close()
                return

    def send(self, answer):
        if self.open:
            self.transport.write(delimited(answer))


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FastSlowProtocol, "127.0.0.1", 0, backlog=4096)
    print("port", server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


asyncio.run(main())
