#!/usr/bin/env python3
"""The status page's BLAKE2b (net/status.html, the block between
"BLAKE2B BEGIN" and "BLAKE2B END") run under node, against Python's
hashlib.blake2b (an independent implementation, vectors made now from a
seeded generator) and against the hypervisor's kernel/blake2b.c (through
tests/unit/blake2b_cli.c). Also the page's action token against
tools/ftmigrate's construction, and its refusal of keys BLAKE2b cannot
take. Prints "ok NAME" / "not ok NAME: why" lines like the C unit tests
(tests/run counts them); built into build/tests/unit/test_status_page_js
by `make unit-tests`."""
import argparse
import hashlib
import json
import random
import shutil
import subprocess
import sys

failed = 0


def report(name, good, why=""):
    global failed
    if good:
        print(f"ok {name}")
    else:
        failed += 1
        print(f"not ok {name}: {why}")


def page_block(path):
    text = open(path, encoding="utf-8").read()
    start = text.find("/* BLAKE2B BEGIN")
    end = text.find("/* BLAKE2B END */")
    if start < 0 or end < start:
        return None
    return text[start:end]


NODE_DRIVER = r"""
const vectors = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const unhex = h => Uint8Array.from(h.match(/../g) || [], x => parseInt(x, 16));
const out = vectors.map(v => {
  try {
    if (v.token)
      return actionToken(v.token.key, v.token.action, v.token.nonce);
    return hexOf(blake2b(v.outlen, unhex(v.key), unhex(v.msg)));
  } catch (e) {
    return 'error: ' + e.name;
  }
});
process.stdout.write(JSON.stringify(out));
"""


def run_node(block, vectors):
    r = subprocess.run(["node", "-e", block + "\n" + NODE_DRIVER], input=json.dumps(vectors),
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"node exited {r.returncode}: {r.stderr.strip()[-400:]}")
    return json.loads(r.stdout)


def run_c(helper, vectors):
    lines = "".join(f"{v['outlen']} {v['key'] or '-'} {v['msg'] or '-'}\n" for v in vectors)
    r = subprocess.run([helper], input=lines, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"{helper} exited {r.returncode}: {r.stderr.strip()[-400:]}")
    return r.stdout.split("\n")[:len(vectors)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--page", required=True)
    ap.add_argument("--c-blake2b", required=True)
    a = ap.parse_args()
    if not shutil.which("node"):
        report("js_blake2b", False, "node is not installed (Debian package nodejs; make deps)")
        return 1
    block = page_block(a.page)
    if not block:
        report("js_blake2b", False, f"{a.page} has no BLAKE2B BEGIN/END block")
        return 1

    # Keys of every length BLAKE2b takes, messages around the block size
    # (the key block, exact multiples, one over), all output lengths.
    rnd = random.Random(7693)
    vectors = [{"outlen": 64, "key": "", "msg": b"abc".hex()}, {"outlen": 64, "key": "", "msg": ""}]
    for kl in list(range(0, 65)) + [32] * 8:
        for ml in (0, 1, 3, 111, 127, 128, 129, 255, 256, 257, 1000):
            if ml > 3 and kl % 5:
                continue  # every length pair would be slow in BigInt; a spread is enough
            vectors.append({"outlen": rnd.choice([1, 16, 20, 32, 32, 48, 63, 64]),
                            "key": rnd.randbytes(kl).hex(), "msg": rnd.randbytes(ml).hex()})
    for v in vectors:
        v["want"] = hashlib.blake2b(bytes.fromhex(v["msg"]), key=bytes.fromhex(v["key"]),
                                    digest_size=v["outlen"]).hexdigest()
    try:
        got = run_node(block, vectors)
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
        report("js_blake2b_matches_hashlib", False, str(e))
        return 1
    bad = [i for i, v in enumerate(vectors) if got[i] != v["want"]]
    report(f"js_blake2b_matches_hashlib ({len(vectors)} vectors, keys 0-64 bytes, messages 0-1000)", not bad,
           bad and f"vector {bad[0]}: outlen {vectors[bad[0]]['outlen']}, key {len(vectors[bad[0]]['key']) // 2} "
                   f"bytes, msg {len(vectors[bad[0]]['msg']) // 2} bytes: got {got[bad[0]]}, "
                   f"want {vectors[bad[0]]['want']} ({len(bad)} wrong)")

    try:
        c = run_c(a.c_blake2b, vectors)
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
        report("js_blake2b_matches_kernel_blake2b", False, str(e))
    else:
        bad = [i for i in range(len(vectors)) if c[i] != got[i]]
        report(f"js_blake2b_matches_kernel_blake2b ({len(vectors)} vectors)", not bad,
               bad and f"vector {bad[0]}: js {got[bad[0]]}, C {c[bad[0]]} ({len(bad)} differ)")

    # The page's token for POST /migrate: tools/ftmigrate's construction
    # with the nonce as GET /status gives it (16 hex digits, "%016llx"),
    # and net/status.c's (the C BLAKE2b over the same message).
    tokens = []
    for i in range(24):
        key = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789-_.!") for _ in range(rnd.randint(16, 64)))
        if i == 0:
            key = "clé-à-accents-€-0123456789"  # UTF-8, as ftmigrate's key.encode()
        nonce = f"{rnd.getrandbits(64):016x}"
        msg = f"ftvisor migrate {nonce}".encode()
        tokens.append({"token": {"key": key, "action": "migrate", "nonce": nonce},
                       "want": hashlib.blake2b(msg, digest_size=32, key=key.encode()).hexdigest(),
                       "outlen": 32, "key": key.encode().hex(), "msg": msg.hex()})
    got_t = run_node(block, tokens)
    c_t = run_c(a.c_blake2b, tokens)
    bad = [i for i, t in enumerate(tokens) if got_t[i] != t["want"] or c_t[i] != t["want"]]
    report("js_action_token_matches_ftmigrate_and_the_hypervisor", not bad,
           bad and f"key {tokens[bad[0]]['token']['key']!r}: js {got_t[bad[0]]}, C {c_t[bad[0]]}, "
                   f"ftmigrate {tokens[bad[0]]['want']}")

    # Sizes BLAKE2b does not take: refused (the page tells the operator),
    # as kernel/blake2b.c refuses them.
    odd = [{"outlen": 32, "key": "61" * 65, "msg": "00"}, {"outlen": 0, "key": "", "msg": "00"},
           {"outlen": 65, "key": "", "msg": "00"}]
    got_o = run_node(block, odd)
    c_o = run_c(a.c_blake2b, odd)
    report("js_blake2b_refuses_bad_sizes", all(g == "error: RangeError" for g in got_o) and
           all(x == "error" for x in c_o), f"js {got_o}, C {c_o}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
