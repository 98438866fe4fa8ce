#!/usr/bin/env python3
"""Finish the Python 3 port of Autobahn|Testsuite after lib2to3.

autobahntestsuite 25.10.1 (the newest on PyPI) is Python 2 source, and autobahn 0.10.9
(the version it pins) has one Python 3 bug on a path the suite uses. setup.sh installs
both into a venv and runs `python -m lib2to3 -w -n` over autobahntestsuite; lib2to3 does
the mechanical part (print, except ... as, relative imports, dict views, unichr). This
script does the rest: the places where Python 2 `str` meant *bytes*, plus a few
behaviour fixes. It is written for exactly these two versions and checks them.

    python port_autobahn.py [--site SITE_PACKAGES] [--key EXTRA] [--check]

  --site   the venv's site-packages (default: this interpreter's purelib)
  --key    extra text mixed into the cache stamp (setup.sh passes the hash of its pins)
  --check  exit 0 if the tree is already ported with this script (and key), 1 if not

Idempotent: when it has finished it writes `autobahntestsuite/.sensorstream-py3-port`
holding the SHA-256 of this file (and --key). A second run with the same stamp does
nothing. A tree stamped by another version of this script is refused: reinstall the
two packages first (setup.sh does that whenever the stamp differs).

Every edit names the text it expects. If upstream text is not there exactly as
expected (count included), the script fails with an error and writes nothing: all
edits are made in memory and written only when every one of them has succeeded.
"""
import argparse
import hashlib
import importlib.metadata
import io
import keyword
import os
import re
import sys
import sysconfig
import tokenize

WANT_VERSIONS = {"autobahntestsuite": "25.10.1", "autobahn": "0.10.9"}
MARKER = os.path.join("autobahntestsuite", ".sensorstream-py3-port")


class PortError(Exception):
    pass


class Tree:
    """Files of site-packages, edited in memory and written all at once by flush()."""

    def __init__(self, site):
        self.site = site
        self.text = {}
        self.original = {}
        self.newline = {}

    def read(self, rel):
        if rel not in self.text:
            path = os.path.join(self.site, rel)
            if not os.path.isfile(path):
                raise PortError(f"{rel}: file not found in {self.site}")
            with open(path, encoding="utf-8") as f:  # universal newlines: edits use "\n"
                self.text[rel] = self.original[rel] = f.read()
                # many upstream files use CRLF: write them back the way they came
                self.newline[rel] = f.newlines if isinstance(f.newlines, str) else "\n"
        return self.text[rel]

    def replace(self, rel, old, new, count=1):
        """Replace the literal text `old` by `new`; it must occur exactly `count` times."""
        src = self.read(rel)
        found = src.count(old)
        if found != count:
            raise PortError(f"{rel}: expected {count} occurrence(s) of {old!r}, found {found}")
        self.text[rel] = src.replace(old, new)

    def sub(self, rel, pattern, repl, count=1):
        """re.sub over the file; the pattern must match exactly `count` times."""
        src = self.read(rel)
        new, n = re.subn(pattern, repl, src, flags=re.M)
        if n != count:
            raise PortError(f"{rel}: expected {count} match(es) of /{pattern}/, found {n}")
        self.text[rel] = new

    def set(self, rel, text):
        self.read(rel)
        self.text[rel] = text

    def changed(self):
        return sorted(r for r in self.text if self.text[r] != self.original[r])

    def flush(self):
        for rel in self.changed():
            compile(self.text[rel], rel, "exec")  # never write a file that does not parse
        for rel in self.changed():
            with open(os.path.join(self.site, rel), "w", encoding="utf-8",
                      newline=self.newline[rel]) as f:
                f.write(self.text[rel])


# --------------------------------------------------------------------------------------
# 1. Case payloads: Python 2 `str` literals that are wire data become `bytes`.
#
# autobahn 0.10.9 on Python 3 sends and receives bytes: sendFrame/sendMessage want bytes,
# onMessage/onPong hand over bytes, and each case compares what it received with what it
# expected (pickled), so an expected str never equals a received bytes. The rewrite is
# driven by the tokenizer, not by regular expressions over source, so that comments,
# docstrings and strings inside other strings are never touched. A string literal in a
# case file becomes bytes when it is, by its position in the code:
#   (a) the value of a `payload=` or `reasonUtf8=` keyword argument (sendFrame and
#       sendCloseFrame take raw octets);
#   (b) on the right-hand side of an assignment to a payload variable (PAYLOAD_NAMES,
#       e.g. `payload = "*" * 125`, `fragments = ["fragment1", "fragment2"]`);
#   (c) written with \xNN escapes: in Python 2 these are octet strings (UTF-8 test
#       vectors, invalid UTF-8, binary payloads);
#   (d) an empty string whose .join() glues payload fragments (`''.join(fragments)`);
#   (e) the payload slot of an expected event written in place: the second item of
#       ("message", "", False), ("pong", "") or ("ping", ...).
# Everything else stays text: descriptions, dict keys, event tags ("message", "pong",
# "timeout"), result strings, close reasons given to sendClose() (which takes text and
# encodes it itself; see TEXT_REASON below).
# A literal with only ASCII in its source gets a `b` prefix (its escapes mean the same
# octets in a bytes literal as they did in a Python 2 str). A literal with non-ASCII
# characters (case 6.2.x, in files declared `coding=utf-8`) was, in Python 2, the UTF-8
# octets of its characters; it becomes `"...".encode("utf-8")`.
# --------------------------------------------------------------------------------------

PAYLOAD_NAMES = {"payload", "ping_payload", "fragments", "pings",
                 "PAYLOAD", "PAYLOAD1", "PAYLOAD2", "PAYLOAD3"}
# case6_x_x.py builds invalid UTF-8 test vectors by appending octets to `s`.
EXTRA_PAYLOAD_NAMES = {"case6_x_x.py": {"s"}}
# A payload variable passed as the *reason* of sendClose(code, reason) is text: autobahn
# encodes it (and would send str(b'...') for bytes). Cases 7.3.4 and 7.3.5 do this.
TEXT_REASON = re.compile(r"\bsendClose\([^(),]+,\s*(?:self\.)?(\w+)\s*\)")
# Totals for this exact upstream version; a change upstream makes the port fail loudly.
EXPECTED_LITERALS = 275
EXPECTED_LITERAL_FILES = 114
EXPECTED_TEXT_REASON_FILES = {"case7_3_4.py", "case7_3_5.py"}

HEX_ESCAPE = re.compile(r"\\x[0-9a-fA-F]{2}")


def _string_prefix(tok):
    return re.match(r"[A-Za-z]*", tok).group(0).lower()


def _to_bytes_literal(tok, where):
    prefix = _string_prefix(tok)
    if prefix:  # raw/unicode/f-strings do not occur in payloads; refuse to guess
        raise PortError(f"{where}: unexpected string prefix in {tok!r}")
    if tok.isascii():
        if re.search(r"\\[uUN]", tok):
            raise PortError(f"{where}: \\u escape in payload literal {tok!r}")
        return "b" + tok
    if HEX_ESCAPE.search(tok):
        raise PortError(f"{where}: both \\x escapes and non-ASCII text in {tok!r}")
    return f'{tok}.encode("utf-8")'


def bytes_literals(src, fname):
    """Return (new source, number of literals rewritten) for one case file."""
    names = PAYLOAD_NAMES | EXTRA_PAYLOAD_NAMES.get(fname, set())
    text_names = set(TEXT_REASON.findall(src)) & names
    names -= text_names
    toks = [t for t in tokenize.generate_tokens(io.StringIO(src).readline)
            if t.type not in (tokenize.COMMENT, tokenize.NL)]
    edits = []
    stmt_target = None  # last NAME of the simple assignment target of this logical line
    stmt_start = 0
    brackets = []       # open brackets of this logical line: True for a call's "("
    for i, t in enumerate(toks):
        if t.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            stmt_target, stmt_start, brackets = None, i + 1, []
            continue
        if t.type == tokenize.OP and t.string in ("(", "[", "{"):
            before = toks[i - 1] if i else None
            brackets.append(t.string == "(" and before is not None and (
                (before.type == tokenize.NAME and not keyword.iskeyword(before.string))
                or before.string in (")", "]")))
        elif t.type == tokenize.OP and t.string in (")", "]", "}"):
            brackets.pop()
        # `NAME(.NAME)* =` at the start of a logical line: a simple assignment
        if t.type == tokenize.OP and t.string == "=" and stmt_target is None:
            head = toks[stmt_start:i]
            if head and all(h.type == tokenize.NAME or h.string == "." for h in head) \
                    and head[-1].type == tokenize.NAME:
                stmt_target = head[-1].string
            else:
                stmt_target = ""  # some other `=` (keyword argument): not an assignment
        if t.type != tokenize.STRING:
            continue
        tok = t.string
        body = tok[len(_string_prefix(tok)):]
        if body.startswith(('"""', "'''")) or "b" in _string_prefix(tok):
            continue
        prev = toks[i - 1] if i else None
        prev2 = toks[i - 2] if i > 1 else None
        nxt = toks[i + 1:i + 3]
        keyword_arg = (prev is not None and prev.string == "=" and prev2 is not None
                       and prev2.type == tokenize.NAME
                       and prev2.string in ("payload", "reasonUtf8")
                       and prev2.string not in text_names)
        # (b) only for operands of the payload expression, not for arguments of a call
        # in it: `payload = payload.decode('utf-8')` keeps its 'utf-8'.
        assigned = stmt_target in names and not any(brackets)
        hex_octets = bool(HEX_ESCAPE.search(tok))
        empty_join = (body in ('""', "''") and len(nxt) == 2
                      and nxt[0].string == "." and nxt[1].string == "join")
        event_payload = (i >= 3 and toks[i - 1].string == ","
                         and toks[i - 2].string in ('"message"', '"ping"', '"pong"',
                                                    "'message'", "'ping'", "'pong'")
                         and toks[i - 3].string == "(")
        if keyword_arg or assigned or hex_octets or empty_join or event_payload:
            where = f"{fname}:{t.start[0]}"
            edits.append((t.start, t.end, _to_bytes_literal(tok, where)))
    if not edits:
        return src, 0
    lines = src.splitlines(keepends=True)
    for (r0, c0), (r1, c1), new in reversed(edits):
        if r0 != r1:
            raise PortError(f"{fname}:{r0}: multi-line payload literal")
        line = lines[r0 - 1]
        lines[r0 - 1] = line[:c0] + new + line[c1:]
    return "".join(lines), len(edits)


def port_case_literals(tree):
    case_dir = os.path.join(tree.site, "autobahntestsuite", "case")
    total, files, text_reason_files = 0, 0, set()
    for fname in sorted(os.listdir(case_dir)):
        if not re.fullmatch(r"case\d.*\.py", fname):
            continue  # case.py (the base class) and __init__.py hold no payloads
        rel = os.path.join("autobahntestsuite", "case", fname)
        src = tree.read(rel)
        if TEXT_REASON.search(src) and set(TEXT_REASON.findall(src)) & PAYLOAD_NAMES:
            text_reason_files.add(fname)
        new, n = bytes_literals(src, fname)
        if n:
            tree.set(rel, new)
            total += n
            files += 1
    if (total, files) != (EXPECTED_LITERALS, EXPECTED_LITERAL_FILES):
        raise PortError(f"case payloads: rewrote {total} literals in {files} files, expected "
                        f"{EXPECTED_LITERALS} in {EXPECTED_LITERAL_FILES} (upstream changed?)")
    if text_reason_files != EXPECTED_TEXT_REASON_FILES:
        raise PortError(f"close reasons kept as text in {sorted(text_reason_files)}, expected "
                        f"{sorted(EXPECTED_TEXT_REASON_FILES)}")
    print(f"port: case payloads: {total} str literals -> bytes in {files} case files")


# --------------------------------------------------------------------------------------
# 2. Targeted fixes in the case files, each for a construct the literal rewrite cannot see.
# --------------------------------------------------------------------------------------

def case(name):
    return os.path.join("autobahntestsuite", "case", name)


def port_cases(tree):
    # Classes made with type(name, (object, Case), ...): in Python 3 `Case` already
    # derives from object, so listing object first gives "Cannot create a consistent
    # method resolution order". The bases become just (Case,).
    for fname, n in [("case6_x_x.py", 1), ("case7_7_X.py", 1), ("case7_9_X.py", 1),
                     ("case9_7_X.py", 1), ("case12_x_x.py", 2)]:
        tree.sub(case(fname), r"\(object,\s*Case,\s*\)", "(Case, )", count=n)

    # zope.interface dropped the class-advice form implements(); use the decorator.
    rel = case("case9_9_1.py")
    tree.replace(rel, "from zope.interface import implements\n",
                 "from zope.interface import implementer\n")
    tree.replace(rel, "\nclass FrameProducer:\n\n   implements(interfaces.IPushProducer)\n",
                 "\n@implementer(interfaces.IPushProducer)  # py3 port: was implements(...)\n"
                 "class FrameProducer:\n")

    # Indexing bytes gives an int in Python 3; the one-octet fragments of 6.4.2 and 6.4.4
    # (and their descriptions) must stay one-octet bytes: PAYLOAD[12] -> PAYLOAD[12:13].
    for fname in ("case6_4_2.py", "case6_4_4.py"):
        tree.replace(case(fname), "PAYLOAD[12]", "PAYLOAD[12:13]", count=2)

    # 6.x UTF-8 test vectors built octet by octet: chr(i) -> bytes([i]).
    tree.sub(case("case6_x_x.py"), r"^(\s+s \+= )chr\(([\w]+)\)$", r"\1bytes([\2])", count=3)

    # 12.x/13.x: the empty message for LEN == 0 has the payload's type (bytes for binary
    # test data, text before it is encoded for text test data), not always str.
    tree.replace(case("case12_x_x.py"), "      msg = ''\n", "      msg = payload[:0]\n")
    # ... and its failure message shows SHA-1 digests as hex text, not b'...'.
    tree.replace(case("case12_x_x.py"),
                 ".format(binascii.hexlify(received_hash), binascii.hexlify(self._expected_hash))",
                 ".format(binascii.hexlify(received_hash).decode(), "
                 "binascii.hexlify(self._expected_hash).decode())")

    # 10.1.1 counts whole frames: integer division.
    tree.replace(case("case10_1_1.py"),
                 "len(self.payload) / self.p.autoFragmentSize",
                 "len(self.payload) // self.p.autoFragmentSize")

    # Descriptions (shown in the reports) print payloads as hex: b2a_hex returns bytes in
    # Python 3, so decode it, or the report says b'cebae1...': 20 places in 11 files, and
    # 7.5.1, which stores its invalid close reason as hex for the report.
    hex_sites = {"case6_2_1.py": 1, "case6_2_2.py": 2, "case6_2_3.py": 1, "case6_2_4.py": 1,
                 "case6_3_1.py": 1, "case6_3_2.py": 1, "case6_4_1.py": 3, "case6_4_2.py": 3,
                 "case6_4_3.py": 3, "case6_4_4.py": 3, "case6_x_x.py": 1, "case7_5_1.py": 1}
    for fname, n in hex_sites.items():
        tree.sub(case(fname), r"(binascii\.b2a_hex\([^()]*\))", r"\1.decode()", count=n)
    # 6.2.x also print the (valid UTF-8) payload itself: decode it for the description.
    for fname, n in [("case6_2_1.py", 1), ("case6_2_2.py", 2), ("case6_2_3.py", 1),
                     ("case6_2_4.py", 1)]:
        tree.sub(case(fname), r"\b(PAYLOAD\d?)(, binascii\.b2a_hex\(\1\))",
                 r'\1.decode("utf-8")\2', count=n)


# --------------------------------------------------------------------------------------
# 3. fuzzing.py: the server/client framework and its reports.
# --------------------------------------------------------------------------------------

def port_fuzzing(tree):
    rel = os.path.join("autobahntestsuite", "fuzzing.py")

    # Wire log: b2a_hex() returns bytes; the log keeps text (it goes to JSON and HTML).
    tree.replace(rel, "dd = binascii.b2a_hex(data[:maxlen]) + ellipses",
                 "dd = binascii.b2a_hex(data[:maxlen]).decode('ascii') + ellipses")
    tree.replace(rel, "      dd = binascii.b2a_hex(data)\n",
                 "      dd = binascii.b2a_hex(data).decode('ascii')\n")
    # asciiLogData() gets octets (frame payloads); its " ..." must be bytes too, or every
    # long payload falls back to hex. Text (e.g. a str close reason) is encoded first.
    tree.replace(rel,
                 "def asciiLogData(data, maxlen = 64, replace = False):\n"
                 "   ellipses = \" ...\"\n",
                 "def asciiLogData(data, maxlen = 64, replace = False):\n"
                 "   ellipses = b\" ...\"  # py3 port: data is bytes\n"
                 "   if isinstance(data, str):\n"
                 "      data = data.encode('utf8')\n")
    # Received frame payloads are lists of bytes chunks.
    tree.replace(rel, "p = ''.join(payload)", "p = b''.join(payload)")
    # Frame masks are 4 octets: log them as hex text (rx and tx frames).
    tree.replace(rel, "binascii.b2a_hex(frameHeader.mask) if frameHeader.mask else None",
                 "binascii.b2a_hex(frameHeader.mask).decode('ascii') if frameHeader.mask else None",
                 count=2)
    # ... so the HTML report prints the logged mask as it is.
    tree.replace(rel, "mmask = binascii.b2a_hex(t[6])", "mmask = t[6]")

    # Replies to the control URLs (/getCaseCount, /getCaseStatus, /getCaseInfo) are JSON
    # text; autobahn 0.10.9's sendMessage() takes bytes.
    tree.replace(rel, "self.sendMessage(json.dumps(len(self.factory.specCases)))",
                 "self.sendMessage(json.dumps(len(self.factory.specCases)).encode('utf8'))")
    tree.replace(rel, "               'behavior':results['behavior']\n            }))\n",
                 "               'behavior':results['behavior']\n            }).encode('utf8'))\n")
    tree.replace(rel,
                 "'description': self.factory.CaseSet.caseClassToPrettyDescription(self.Case),\n"
                 "         }))\n",
                 "'description': self.factory.CaseSet.caseClassToPrettyDescription(self.Case),\n"
                 "         }).encode('utf8'))\n")
    # The "echo" command of a fuzzing peer sends its JSON payload (text) as a frame.
    tree.replace(rel, "payload = spec.get(\"payload\", \"\"), payload_len",
                 "payload = spec.get(\"payload\", \"\").encode('utf8'), payload_len")
    # Debug log of a pong: bytes cannot be concatenated to text.
    tree.replace(rel, 'log.msg("Pong received: " + payload)', 'log.msg("Pong received: %r" % payload)')

    # Case results go to JSON and HTML reports: close reasons we sent (octets, possibly
    # invalid UTF-8 on purpose) and the raw HTTP handshake are bytes; store them as text.
    tree.replace(rel,
                 "         caseResult['received'] = cleanBin(caseResult['received'])\n",
                 "         caseResult['received'] = cleanBin(caseResult['received'])\n"
                 "\n"
                 "         ## py3 port: octets in the results are stored as text (JSON/HTML reports)\n"
                 "         for k in ('localCloseReason', 'remoteCloseReason', 'httpRequest', 'httpResponse'):\n"
                 "            if isinstance(caseResult[k], bytes):\n"
                 "               caseResult[k] = caseResult[k].decode('utf8', 'replace')\n")
    # Reports are written as UTF-8 whatever the locale (descriptions hold non-ASCII).
    tree.replace(rel, "f = open(os.path.join(outdir, report_filename), 'w')",
                 "f = open(os.path.join(outdir, report_filename), 'w', encoding = 'utf-8')",
                 count=4)
    # ... as text: Python 2 wrote .encode("utf-8") results into a byte-oriented file.
    tree.replace(rel, "% (c[0], case[c[0]], c[1])).encode(\"utf-8\"))",
                 "% (c[0], case[c[0]], c[1])))")
    tree.replace(rel, "(2+4+len(prefix))*\" \", ll.encode('utf8')))",
                 "(2+4+len(prefix))*\" \", ll))")

    # Listen on the spec's "interface" (default 127.0.0.1) instead of every interface
    # (upstream passes none, i.e. 0.0.0.0): a test server must not be reachable from the
    # network. The optional web UI (-u PORT) binds the same interface; its child resource
    # name is bytes in Twisted 22.
    tree.replace(rel, "   listenWS(factory, sslContext)\n",
                 "   ## py3 port: bind only the spec's interface (default loopback), not 0.0.0.0\n"
                 "   interface = spec.get('interface', '127.0.0.1')\n"
                 "   listenWS(factory, sslContext, interface = interface)\n")
    tree.replace(rel, "webdir.putChild('cwd', curdir)", "webdir.putChild(b'cwd', curdir)")
    tree.replace(rel, "reactor.listenSSL(webport, web, sslContext)",
                 "reactor.listenSSL(webport, web, sslContext, interface = interface)")
    tree.replace(rel, "reactor.listenTCP(webport, web)",
                 "reactor.listenTCP(webport, web, interface = interface)")


# --------------------------------------------------------------------------------------
# 4. wstest.py and autobahn 0.10.9.
# --------------------------------------------------------------------------------------

def port_wstest_and_autobahn(tree):
    # The "serializer" mode (WAMP serializer tests) imports unittest2, which is not
    # installed and does not install on Python 3.11: make that one mode optional instead
    # of breaking every mode at import time.
    tree.replace(os.path.join("autobahntestsuite", "wstest.py"),
                 "\nfrom . import serializer\n",
                 "\ntry:\n"
                 "   from . import serializer  # py3 port: needs unittest2 (serializer mode only)\n"
                 "except ImportError:\n"
                 "   serializer = None\n")

    # autobahn 0.10.9 sendFrame(payload_len=N) repeats the payload N // len(payload) times;
    # with Python 3's true division range() gets a float and raises. Used by 9.7/9.8.
    tree.replace(os.path.join("autobahn", "websocket", "protocol.py"),
                 "range(payload_len / len(payload))", "range(payload_len // len(payload))")


# --------------------------------------------------------------------------------------

def stamp(key):
    with open(os.path.abspath(__file__), "rb") as f:
        h = hashlib.sha256(f.read())
    h.update(key.encode())
    return h.hexdigest()


def check_inputs(site):
    for dist, want in WANT_VERSIONS.items():
        try:
            have = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            raise PortError(f"{dist} is not installed in this interpreter's environment")
        if have != want:
            raise PortError(f"{dist} {have} is installed; this port is for {want}")
    init = os.path.join(site, "autobahntestsuite", "__init__.py")
    with open(init, encoding="utf-8") as f:
        if "from ._version import __version__" not in f.read():
            raise PortError("autobahntestsuite is not converted by lib2to3 yet "
                            "(run `python -m lib2to3 -w -n` on it first)")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", default=sysconfig.get_paths()["purelib"])
    ap.add_argument("--key", default="")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    want = stamp(args.key)
    marker = os.path.join(args.site, MARKER)
    have = open(marker).read().strip() if os.path.exists(marker) else None
    if args.check:
        return 0 if have == want else 1
    if have == want:
        print(f"port: {args.site} already ported ({want[:12]})")
        return 0
    if have is not None:
        raise PortError(f"{marker} holds another stamp ({have[:12]}): this tree was ported by "
                        "another version of port_autobahn.py; reinstall autobahntestsuite and "
                        "autobahn (setup.sh does) and run lib2to3 again")
    check_inputs(args.site)
    tree = Tree(args.site)
    port_case_literals(tree)
    port_cases(tree)
    port_fuzzing(tree)
    port_wstest_and_autobahn(tree)
    changed = tree.changed()
    tree.flush()
    with open(marker, "w") as f:
        f.write(want + "\n")
    print(f"port: {len(changed)} files changed in {args.site}; stamp {want[:12]}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except PortError as e:
        print(f"port_autobahn.py: FAILED: {e}", file=sys.stderr)
        sys.exit(2)
