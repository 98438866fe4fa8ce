#!/usr/bin/env python3
"""Summarize an Autobahn|Testsuite report (index.json of fuzzingserver or fuzzingclient).

    python3 summarize.py [REPORT_DIR_OR_INDEX_JSON] [--agent NAME]

Lists, per agent, every case whose behaviour is not OK (FAILED first), then ends with one
line counting the cases by behaviour, for all agents together:

    autobahn: N OK, N non-strict, N informational, N unimplemented, N failed of N

A behaviour outside OK, NON-STRICT, INFORMATIONAL and UNIMPLEMENTED counts as failed.
Exit status: 0 if no case failed, 1 if any did, 2 if the report is missing or empty.
"""
import json
import os
import re
import sys

PASSING = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED")


def case_order(case_id):
    return [int(n) for n in re.findall(r"\d+", case_id)]


def counts_line(prefix, counts, total):
    failed = total - sum(counts[b] for b in PASSING)
    return (f"{prefix} {counts['OK']} OK, {counts['NON-STRICT']} non-strict, "
            f"{counts['INFORMATIONAL']} informational, {counts['UNIMPLEMENTED']} unimplemented, "
            f"{failed} failed of {total}")


def main(args):
    agent_only = None
    if "--agent" in args:
        i = args.index("--agent")
        if i + 1 >= len(args):
            print("usage: summarize.py [REPORT_DIR_OR_INDEX_JSON] [--agent NAME]", file=sys.stderr)
            return 2
        agent_only = args[i + 1]
        del args[i:i + 2]
    path = args[0] if args else os.path.join("reports", "clients", "index.json")
    if os.path.isdir(path):
        path = os.path.join(path, "index.json")
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        print(f"autobahn: cannot read {path}: {e}")
        return 2
    agents = sorted(a for a in index if agent_only in (None, a))
    if not agents or not any(index[a] for a in agents):
        print(f"autobahn: no results in {path}")
        return 2

    total_counts = {b: 0 for b in PASSING}
    total = 0
    for agent in agents:
        cases = index[agent]
        counts = {b: 0 for b in PASSING}
        notable = []
        for case_id in sorted(cases, key=case_order):
            result = cases[case_id]
            behavior = result.get("behavior", "?")
            if behavior in counts:
                counts[behavior] += 1
            if behavior != "OK":
                notable.append((behavior in PASSING, case_id, behavior,
                                result.get("behaviorClose"), result.get("remoteCloseCode")))
        print(f"agent {agent}: {len(cases)} cases")
        for passing, case_id, behavior, close, code in sorted(notable, key=lambda n: n[0]):
            print(f"  {case_id:10} {behavior:14} close {close}, remote close code {code}")
        if len(agents) > 1:
            print(counts_line(f"  {agent}:", counts, len(cases)))
        for b in PASSING:
            total_counts[b] += counts[b]
        total += len(cases)
    print(f"  (case details: {os.path.dirname(path) or '.'}/<agent>_case_<id>.json and .html)")
    print(counts_line("autobahn:", total_counts, total))
    return 0 if sum(total_counts.values()) == total else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
