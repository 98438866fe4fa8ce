"""Writes reference_vectors.txt: FastSlow messages as the reference protobuf implementation
(Google's `protobuf` package for Python) encodes them, and inputs it refuses to decode.

    python3 -m venv .build-venv && .build-venv/bin/pip install protobuf
    .build-venv/bin/python Tests/FastSlowTests/ReferenceVectors/make_vectors.py

The message classes are built from a descriptor written out field by field from
Sources/FastSlow/fastslow.proto (no protoc needed). Output lines:

    encode <name> <hex of SerializeToString()>          one message, without size prefix
    delimited <hex>                                     several messages, each size-prefixed
                                                        (what writeDelimitedTo writes)
    decode-ok <hex> <hex of re-encoding>                input the reference accepts (parse +
                                                        IsInitialized), and what it re-encodes to
    decode-error <hex> <reason>                         input the reference refuses
"""
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.internal import decoder, encoder
from google.protobuf.message import DecodeError

F = descriptor_pb2.FieldDescriptorProto


def schema():
    file = descriptor_pb2.FileDescriptorProto(name="fastslow.proto", package="TestTask.Messages", syntax="proto2")

    def message(name, fields):
        proto = file.message_type.add(name=name)
        for number, field_name, label, kind, type_name in fields:
            field = proto.field.add(name=field_name, number=number, label=label, type=kind)
            if type_name:
                field.type_name = ".TestTask.Messages." + type_name

    message("WrapperMessage", [
        (1, "fast_response", F.LABEL_OPTIONAL, F.TYPE_MESSAGE, "FastResponse"),
        (2, "slow_response", F.LABEL_OPTIONAL, F.TYPE_MESSAGE, "SlowResponse"),
        (3, "request_for_fast_response", F.LABEL_OPTIONAL, F.TYPE_MESSAGE, "RequestForFastResponse"),
        (4, "request_for_slow_response", F.LABEL_OPTIONAL, F.TYPE_MESSAGE, "RequestForSlowResponse"),
    ])
    message("FastResponse", [(1, "current_date_time", F.LABEL_REQUIRED, F.TYPE_STRING, None)])
    message("SlowResponse", [(1, "connected_client_count", F.LABEL_REQUIRED, F.TYPE_UINT32, None)])
    message("RequestForFastResponse", [])
    message("RequestForSlowResponse", [(1, "time_in_seconds_to_sleep", F.LABEL_REQUIRED, F.TYPE_UINT32, None)])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("TestTask.Messages.WrapperMessage"))


Wrapper = schema()


def fast(text):
    message = Wrapper()
    message.fast_response.current_date_time = text
    return message


def slow(count):
    message = Wrapper()
    message.slow_response.connected_client_count = count
    return message


def request_fast():
    message = Wrapper()
    message.request_for_fast_response.SetInParent()
    return message


def request_slow(seconds):
    message = Wrapper()
    message.request_for_slow_response.time_in_seconds_to_sleep = seconds
    return message


def delimited(messages):
    out = bytearray()
    for message in messages:
        body = message.SerializeToString()
        out += encoder._VarintBytes(len(body)) + body
    return bytes(out)


def decoded(data):
    """The reference's verdict on one message body: its re-encoding, or why it refuses."""
    message = Wrapper()
    try:
        message.ParseFromString(data)
    except DecodeError as error:
        return None, "DecodeError: " + str(error).replace(" ", "_")
    if not message.IsInitialized():
        return None, "uninitialized:" + ",".join(message.FindInitializationErrors())
    fields = [f.name for f, _ in message.ListFields()]
    if len(fields) != 1:
        return None, "wrapper_fields:%d" % len(fields)
    return message.SerializeToString(), None


def main(out):
    encodes = [
        ("request_fast", request_fast()),
        ("request_slow_0", request_slow(0)),
        ("request_slow_2", request_slow(2)),
        ("request_slow_300", request_slow(300)),
        ("request_slow_max", request_slow(2**32 - 1)),
        ("slow_0", slow(0)),
        ("slow_1", slow(1)),
        ("slow_200", slow(200)),
        ("slow_16384", slow(16384)),
        ("slow_max", slow(2**32 - 1)),
        ("fast_example", fast("19851019T050107.333")),
        ("fast_empty", fast("")),
        ("fast_unicode", fast("\u00e9\u65e5\u672c\U0001F600")),
        ("fast_127", fast("x" * 127)),
        ("fast_128", fast("y" * 128)),
        ("fast_300", fast("z" * 300)),
    ]
    for name, message in encodes:
        out.write("encode %s %s\n" % (name, message.SerializeToString().hex()))
    out.write("delimited %s\n" % delimited([m for _, m in encodes]).hex())
    # Inputs of every kind, accepted or refused, each judged by the reference.
    inputs = [
        "",                                  # nothing set
        "1a00",                              # request_fast
        "1a021034",                          # request_fast with an unknown varint field 2 inside
        "1a021234",                          # request_fast with a field 2 whose length runs past the end
        "2202082a2202082b",                  # field 4 twice: merged, last wins
        "0a030a01610a030a0162",              # field 1 twice: last string wins
        "0a0012020801",                      # two different fields
        "0a00",                              # FastResponse without its required field
        "1200",                              # SlowResponse without its required field
        "2200",                              # RequestForSlowResponse without its required field
        "0a030a01ff",                        # invalid UTF-8
        "0a050a03eda080",                    # a surrogate (invalid UTF-8)
        "0a050a03c0af41",                    # overlong encoding
        "22020802" "2801",                   # unknown varint field 5 after a request
        "22020802" "31" + "00" * 8,          # unknown fixed64 field 6
        "22020802" "3a03616263",             # unknown length-delimited field 7
        "22020802" "45" + "00" * 4,          # unknown fixed32 field 8
        "22020802" "4b4c",                   # group 9 (start + end)
        "22020802" "4c",                     # lone end group
        "22020802" "4e",                     # wire type 6
        "22020802" "4f",                     # wire type 7
        "2203088002",                        # 256 as varint
        "220b08ffffffffffffffffff01",        # a 10-byte varint (truncated to 32 bits)
        "220c08ffffffffffffffffffff01",      # an 11-byte varint
        "2205088080",                        # length past end inside
        "2202",                              # length past end
        "22",                                # truncated length
        "0a",                                # truncated length
        "1b00",                              # field 3 as a start group
        "1800",                              # field 3 as a varint
        "0200",                              # field 0
        "12020801" "12020802",               # slow twice, merged
        "1a00" "1a00",                       # request_fast twice
        "0a020800",                          # FastResponse field 1 as a varint
        "12020a00",                          # SlowResponse field 1 as bytes
        "f8ffffff0f01",                      # field 2^29-1 varint: unknown, skipped; nothing set
        "8080808010" "01",                   # field number past 2^29-1
    ]
    for text in inputs:
        data = bytes.fromhex(text)
        encoded, reason = decoded(data)
        if encoded is None:
            out.write("decode-error %s %s\n" % (text or "-", reason))
        else:
            out.write("decode-ok %s %s\n" % (text or "-", encoded.hex()))


if __name__ == "__main__":
    from google.protobuf.internal import api_implementation
    with open(sys.argv[1] if len(sys.argv) > 1 else __file__.replace("make_vectors.py", "reference_vectors.txt"), "w") as out:
        import google.protobuf
        out.write("# protobuf %s (%s implementation); regenerate with make_vectors.py\n"
                  % (google.protobuf.__version__, api_implementation.Type()))
        main(out)
