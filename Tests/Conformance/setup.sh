#!/usr/bin/env bash
# Sets up Autobahn|Testsuite (RFC 6455 conformance suite, `wstest`) in a venv, on Python 3.
#
#   bash Tests/Conformance/setup.sh          # venv at $VENV (default: <repo>/.autobahn-venv)
#
# autobahntestsuite (25.10.1, the newest on PyPI) is Python 2 source. This installs it and
# its runtime (pinned below, from PyPI only) into a venv, converts it with lib2to3, and
# finishes the port with port_autobahn.py (bytes payloads, report encoding, loopback
# binding, one autobahn 0.10.9 bug). Idempotent: port_autobahn.py stamps the ported tree
# with the hash of itself and of this file; while the stamp matches, this exits at once.
# Env: VENV    the venv to create or update (.ci/conformance passes AUTOBAHN_VENV)
#      PYTHON  interpreter for a new venv (default: python3.11, else 3.10 ... 3.8, else
#              python3); must be 3.8 to 3.12, since lib2to3 is gone from 3.13
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${VENV:-$ROOT/.autobahn-venv}"
PORT_SCRIPT="$HERE/port_autobahn.py"

# Everything the suite imports, pinned (tested on CPython 3.11.7, Debian 12).
PINS=(
  "txaio==2.1.0"              # the version autobahntestsuite 25.10.1 pins
  "six==1.17.0"
  "Twisted==22.10.0"          # first release for Python 3.11 that still has the APIs the suite uses
  "zope.interface==8.7"
  "wsaccel==0.6.7"            # C UTF-8 validator and XOR masker (autobahn[accelerate]):
                              # without it one 12.x case takes minutes
  "pyOpenSSL==26.4.0"         # twisted.internet.ssl is imported unconditionally
  "service-identity==26.1.0"  # keeps Twisted's TLS support quiet and complete
  "Jinja2==3.1.6"             # imported by autobahntestsuite.report
  "setuptools==65.5.0"        # pkg_resources (gone from setuptools 81), used by fuzzing.py
  # Twisted's and pyOpenSSL's dependencies, pinned to what was tested
  "attrs==26.1.0" "Automat==25.4.16" "constantly==23.10.4" "hyperlink==21.0.0"
  "idna==3.21" "incremental==24.11.0" "typing_extensions==4.16.0"
  "cryptography==50.0.2" "cffi==2.1.1" "pycparser==3.12" "MarkupSafe==3.0.4"
  "packaging==26.4"
)
# The two packages that get ported: installed without their declared dependencies
# (autobahntestsuite asks for py2-era releases that do not build on 3.11).
PORTED=("autobahntestsuite==25.10.1" "autobahn==0.10.9")

pick_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  for p in python3.11 python3.10 python3.9 python3.8 python3.12 python3; do
    command -v "$p" >/dev/null 2>&1 && { command -v "$p"; return; }
  done
  echo "setup.sh: no python3 found" >&2
  exit 2
}

if [ ! -x "$VENV/bin/python" ]; then
  PYTHON="$(pick_python)"
  "$PYTHON" -c 'import sys; sys.exit(not (3, 8) <= sys.version_info[:2] <= (3, 12))' || {
    echo "setup.sh: $PYTHON is $("$PYTHON" -V 2>&1); need CPython 3.8 to 3.12 (lib2to3); set PYTHON=" >&2
    exit 2
  }
  echo "setup.sh: creating $VENV with $("$PYTHON" -V 2>&1)"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# The stamp covers port_autobahn.py (itself) and this file (the pins).
KEY="setup.sh $(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"

if [ -x "$VENV/bin/wstest" ] && "$PY" "$PORT_SCRIPT" --site "$SITE" --key "$KEY" --check \
   && "$PY" -m pip check >/dev/null 2>&1; then
  echo "setup.sh: $VENV is set up"
  exit 0
fi

PIP=("$PY" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install "${PINS[@]}"
# Fresh, unported copies of the two ported packages: remove every trace of an earlier
# port (lib2to3 output, port edits, the stamp), then install them again.
"${PIP[@]}" uninstall -y autobahntestsuite autobahn >/dev/null 2>&1 || true
rm -rf "$SITE/autobahntestsuite" "$SITE/autobahn"
# --no-compile: no bytecode of the Python 2 source. A .pyc is trusted while the source's
# mtime (whole seconds) and size match, and lib2to3 can rewrite a file within the same
# second to the same size (case7_3_4.py: `from case` -> `from .case`, `u"..."` -> `"..."`),
# which left the unported bytecode in use on one CI run ("No module named 'case'").
"${PIP[@]}" install --no-compile --no-deps "${PORTED[@]}"
find "$SITE/autobahntestsuite" "$SITE/autobahn" -name __pycache__ -type d -prune -exec rm -rf {} +

# 1. The mechanical Python 2 -> 3 conversion (print, except ... as, relative imports, ...).
#    autobahn 0.10.9 is already Python 3 code and is not converted.
"$PY" -W ignore -m lib2to3 -w -n -j 2 "$SITE/autobahntestsuite" > "$VENV/lib2to3.log" 2>&1 || {
  tail -n 20 "$VENV/lib2to3.log" >&2
  echo "setup.sh: lib2to3 failed (log: $VENV/lib2to3.log)" >&2
  exit 2
}
# 2. The rest of the port; writes the stamp when done.
"$PY" "$PORT_SCRIPT" --site "$SITE" --key "$KEY"
# -f: compile every file again, whatever bytecode claims to be current.
"$PY" -m compileall -f -q "$SITE/autobahntestsuite" "$SITE/autobahn" >/dev/null || true
"${PIP[@]}" check

# Smoke test: the suite imports and knows its cases (517 in sections 1-13).
"$PY" -W ignore - "$VENV" <<'PY'
import os, sys
import autobahntestsuite.fuzzing as fuzzing
import autobahntestsuite.wstest  # noqa: F401  (the command line imports every mode)
wstest = os.path.join(sys.argv[1], "bin", "wstest")
assert os.access(wstest, os.X_OK), wstest
print(f"setup.sh: ok, {len(fuzzing.Cases)} cases; {wstest}")
PY
