#!/bin/bash
# The operator's status page (net/status.html) in headless Chromium,
# driven through chromedriver (tests/system/webdriver.py), on two Bochs
# hosts on tools/ftlink (alpha primary, beta backup) running
# tests/guests/seqlong.c; the browser reaches them through ftlink's TAP.
#  1. alpha's page: role primary, pair state protected, graphs of the
#     backup's lag and the log's bandwidth with data points, beta alive in
#     the peer table and on its heartbeat timeline, the protection in the
#     history table; a screenshot (alpha.png).
#  2. Migrate to peer with a wrong key: refused, the page says so, alpha
#     logs it and stays the protected primary.
#  3. With the pair key: accepted; beta goes live by the handover and
#     clones the guest back: beta's page shows it runs the guest (primary,
#     protected, the button enabled), alpha's that it is the backup (the
#     button disabled), and both history tables list the migration and the
#     clone (beta.png, alpha-after.png).
#  4. GET /status on both hosts is valid JSON with the history and events.
# Needs root (TAP); installs chromium and chromium-driver if missing.
# run: alone
. "$(dirname "$0")/lib.sh"
P=$(( 31000 + ($$ % 250) * 4 ))
TAP=ftsp$$
NET=10.79.$(( $$ % 200 + 20 ))
KEY=status-page-key-0123456789

if ! command -v chromium > /dev/null || ! command -v chromedriver > /dev/null; then
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get -q install -y --no-install-recommends chromium chromium-driver > "$WORK/apt.log" 2>&1 ||
            { apt-get -q update >> "$WORK/apt.log" 2>&1 &&
              apt-get -q install -y --no-install-recommends chromium chromium-driver >> "$WORK/apt.log" 2>&1; }
    fi
    if ! command -v chromium > /dev/null || ! command -v chromedriver > /dev/null; then
        notok "chromium and chromium-driver are missing and could not be installed (as root: apt-get install chromium chromium-driver; $WORK/apt.log)"
        exit 1
    fi
fi

ftlink_start --bochs $P --bochs $((P + 2)) --tap "$TAP:$NET.254/24"
cleanup() {
    local p
    for p in $(pgrep -x bochs); do grep -qs "$WORK/" /proc/$p/cwd/bochsrc && kill -KILL "$p"; done
    ftlink_stop
}
trap cleanup EXIT

image sp "$ROOT/build/guests/seqlong.bin" <<CONF
[host alpha]
mac = 52:54:00:00:79:01
ip = $NET.1
netmask = 255.255.255.0

[host beta]
mac = 52:54:00:00:79:02
ip = $NET.2
netmask = 255.255.255.0

[pair]
key = $KEY
heartbeat_ms = 100
failover_timeout_ms = 5000
max_lag_ms = 500
arbiter = none

[guest]
kernel = seqlong.bin
memory_mb = 32

[debug]
uptime_ms = 300000
CONF

boot_bg bochs sp "$WORK/alpha.serial" --timeout 330 --sync slowdown --nic "52:54:00:00:79:01:$P" --log "$WORK/alpha.bochs.log"
boot_bg bochs sp "$WORK/beta.serial" --timeout 330 --sync slowdown --nic "52:54:00:00:79:02:$((P + 2))" --log "$WORK/beta.bochs.log"

# A few seconds of protected run first: the graphs need samples.
if ! wait_for "$WORK/alpha.serial" 'guest: seq 800 ' 200; then
    notok "alpha never showed seq 800 under protection: $(grep -a 'pair:' "$WORK/alpha.serial" | tail -2)"
    cleanup
    wait_boots
    exit 0
fi

python3 - "$ROOT/tests/system" "$TEST" "$WORK" "$NET.1" "$NET.2" "$KEY" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[1])
from webdriver import Browser, WebDriverError
test, work, alpha, beta, key = sys.argv[2:7]
def ok(what): print(f"ok {test}: {what}", flush=True)
def notok(what): print(f"not ok {test}: {what}", flush=True)

TEXT = "return (document.querySelector(arguments[0]) || {}).textContent || ''"
ROLE = "return document.querySelector('#role').textContent + ' / ' + document.querySelector('#pair-state').textContent"
def role_is(want):
    return f"var r = (function () {{ {ROLE} }})(); return r == '{want}' && r"
# Each graph's samples (data-points) and the points of its lines.
GRAPH = """var s = document.querySelector('#graph-' + arguments[0]); if (!s) return null;
var pts = 0; s.querySelectorAll('polyline').forEach(function (l) { pts += l.getAttribute('points').split(' ').length; });
return { samples: +s.getAttribute('data-points'), points: pts + s.querySelectorAll('circle').length,
         head: document.querySelector('#head-' + arguments[0]).textContent };"""
PEER = """var r = document.querySelector('#peers tr[data-peer="' + arguments[0] + '"]'); if (!r) return null;
return Array.prototype.map.call(r.cells, function (c) { return c.textContent; });"""
EVENTS = """return Array.prototype.map.call(document.querySelectorAll('#events tr.event'),
    function (r) { return r.getAttribute('data-kind') + ': ' + r.cells[3].textContent; });"""
REPLY = "var t = document.querySelector('#migrate-reply').textContent; return /^(refused|accepted|not sent|no answer)/.test(t) ? t : ''"

def attempt(what, fn):
    try:
        fn()
    except (WebDriverError, OSError, KeyError, TypeError) as e:
        notok(f"{what}: {e}")

def migrate(b, k):
    b.js("document.querySelector('#migrate-reply').textContent = ''")
    b.click("#migrate")
    b.type("#key", k)
    b.click("#migrate-go")
    return b.wait(REPLY, 30, "the answer to Migrate")

try:
    b = Browser(work)
except WebDriverError as e:
    notok(f"browser: {e}")
    sys.exit(0)
try:
    # 1. alpha, protected.
    def page_alpha():
        b.get(f"http://{alpha}/")
        role = b.wait(role_is("primary / protected"), 60, "alpha's page to show primary / protected")
        banner = b.js("return document.querySelector('#banner').className")
        (ok if banner == "ok" else notok)(f"alpha's page: role and pair state '{role}', health '{banner}': "
                                          f"{b.js(TEXT, '#health')}")
    attempt("alpha's page: role", page_alpha)

    def graphs():
        g = b.wait("var g = (function () {" + GRAPH + "}).apply(null, arguments); return g && g.samples >= 5 && g",
                   60, "5 samples in the lag graph", "lag_ms")
        (ok if g["points"] >= 5 else notok)(f"alpha's page: the lag graph has {g['samples']} samples, "
                                            f"{g['points']} points drawn ({g['head']})")
        g = b.wait("var g = (function () {" + GRAPH + "}).apply(null, arguments); return g && g.samples >= 5 && g",
                   30, "5 samples in the bandwidth graph", "log_Bps")
        peak = b.js("var v = current.history.series.log_Bps.filter(function (x) { return x !== null; });"
                    "return Math.max.apply(null, v)")
        (ok if g["points"] >= 5 and peak > 0 else notok)(
            f"alpha's page: the bandwidth graph has {g['samples']} samples, {g['points']} points drawn, "
            f"at most {peak} B/s ({g['head']})")
    attempt("alpha's page: graphs", graphs)

    def peers():
        row = b.wait("var r = (function () {" + PEER + "}).apply(null, arguments); return r && r[4] == 'alive' && r",
                     30, "beta alive in the peer table", "beta")
        (ok if row[2] == "yes" else notok)(f"alpha's page: peer table {row}")
        alive = b.js("return document.querySelectorAll('#hb-beta rect.hb-alive').length")
        secs = b.js("return +document.querySelector('#hb-beta').getAttribute('data-seconds')")
        (ok if alive >= 1 and secs >= 5 else notok)(
            f"alpha's page: beta's heartbeat timeline ({secs} s, {alive} alive runs): {b.js(TEXT, '#tlhead-beta')}")
        ev = b.js(EVENTS)
        (ok if any(e.startswith("protected: ") for e in ev) else notok)(f"alpha's page: history {ev}")
        n = b.screenshot(os.path.join(work, "alpha.png"))
        (ok if n > 20000 else notok)(f"alpha's page: screenshot alpha.png, {n} bytes")
    attempt("alpha's page: peers", peers)

    # 2. A wrong key.
    def wrong():
        r = migrate(b, "not-the-pair-key-0123")
        (ok if r.startswith("refused (403): bad or stale token") else notok)(f"wrong key: the page shows '{r}'")
        cls = b.js("return document.querySelector('#migrate-reply').className")
        role = b.js(ROLE)
        (ok if cls == "bad" and role == "primary / protected" else notok)(
            f"wrong key: shown as a refusal ({cls}); alpha is still {role}")
    attempt("wrong key", wrong)

    # 3. The pair key.
    def right():
        r = migrate(b, key)
        (ok if r.startswith("accepted: migrating the guest to beta") else notok)(f"pair key: the page shows '{r}'")
        role = b.wait(role_is("backup / replaying"), 120, "alpha's page to show backup / replaying")
        dis = b.js("return document.querySelector('#migrate').disabled")
        (ok if dis else notok)(f"alpha's page after the migration: '{role}', Migrate disabled: {dis}")
        ev = b.wait("var e = (function () {" + EVENTS + "})(); return e.some(function (x) { return /^clone received/.test(x); }) && e",
                    30, "clone received in alpha's history")
        (ok if any(e.startswith("migration out: migration 1: the guest went to beta") for e in ev) else notok)(
            f"alpha's history lists the migration and the clone back: {ev[:3]}")
        b.screenshot(os.path.join(work, "alpha-after.png"))

        b.get(f"http://{beta}/")
        role = b.wait(role_is("primary / protected"), 120, "beta's page to show primary / protected")
        en = b.js("return !document.querySelector('#migrate').disabled")
        (ok if en else notok)(f"beta's page: it runs the guest: '{role}', Migrate enabled: {en}")
        ev = b.wait("var e = (function () {" + EVENTS + "})(); return e.some(function (x) { return /^clone sent/.test(x); }) && e",
                    30, "clone sent in beta's history")
        (ok if any(e.startswith("migration in: the guest runs here") for e in ev) else notok)(
            f"beta's history lists the migration and the clone: {ev[:3]}")
        row = b.js("return (function () {" + PEER + "}).apply(null, arguments)", "alpha")
        (ok if row and row[4] == "alive" else notok)(f"beta's page: peer table {row}")
        n = b.screenshot(os.path.join(work, "beta.png"))
        (ok if n > 20000 else notok)(f"beta's page: screenshot beta.png, {n} bytes")
    attempt("migration", right)
finally:
    b.quit()
PY

# 4. The JSON both pages render.
for h in alpha:1 beta:2; do
    curl -s -m 10 "http://$NET.${h#*:}/status" > "$WORK/${h%:*}.status.json"
done
python3 - "$WORK/alpha.status.json" "$WORK/beta.status.json" > "$WORK/json.check" <<'PY'
import json, sys
for path, kinds in ((sys.argv[1], {"protected", "migration out", "clone received"}),
                    (sys.argv[2], {"migration in", "clone offered", "clone sent", "protected"})):
    try:
        s = json.load(open(path))
        h = s["history"]
        seen = {e["kind"] for e in s["events"]}
        # A log of a few tens of kB/s: no sample near 4 GB/s (a rate
        # taken across the count's restart at a role change).
        peak = max(v for v in h["series"]["log_Bps"] if v is not None)
        ok = h["samples"] >= 10 and len(h["series"]["lag_ms"]) == h["samples"] and \
            len(h["peers"][0]["heartbeat"]) == h["samples"] and kinds <= seen and 0 < peak < 10**8
        print(s["host"], "ok" if ok else "bad", f"{h['samples']} samples of {h['capacity']}, log at most {peak} B/s,",
              "events", sorted(seen))
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        print(path, "bad", e)
PY
while read -r host verdict rest; do
    [ "$verdict" = ok ] && ok "GET /status on $host: valid JSON, $rest" || notok "GET /status on $host: $verdict $rest"
done < "$WORK/json.check"
[ "$(wc -l < "$WORK/json.check")" = 2 ] || notok "GET /status: $(cat "$WORK/json.check")"

wait_boots
on "$WORK/alpha.serial"
expect "alpha logs the wrong key's refusal" 'status: POST /migrate refused: bad or stale token'
expect "alpha hands the guest over" 'pair: migration 1: the guest stopped here [0-9]+ ms ago and beta has its whole log'
expect_not "alpha: a single migration" 'pair: migration 2:'
on "$WORK/beta.serial"
expect "beta takes the guest" "pair: migrated: the guest runs here [0-9]+ ms after alpha.s handover"
expect "beta clones it back" 'pair: clone 1 sent to alpha'
expect_not "beta: no divergence" 'DIVERGED|initial state here differs'
expect_not "the answers fit their buffers" 'status: GET /status needs'
expect_clean_poweroff alpha beta
