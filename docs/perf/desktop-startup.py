#!/usr/bin/env python3
"""Desktop app figures for docs/PERFORMANCE.md: cold start to the unlock screen, resident
memory (idle at the unlock screen, and with a 10,000-item vault unlocked) and the time from a
key press in the search field to the next animation frame after the list changed.

Python 3 standard library only. It drives the release build of `tessera-app` through
`tauri-driver` (which hands the session to WebKitGTK's WebKitWebDriver) under Xvfb, the way
`tests/tests/desktop.rs` does.

Build first, from the repository root:

    export CARGO_TARGET_DIR=/var/cache/tessera-target
    (cd ui && npm run build)
    cargo build --release -p tessera-app -p tessera-cli

then run (it starts Xvfb on --display unless an X server already listens there, and stops
everything it started when it ends):

    python3 docs/perf/desktop-startup.py --runs 5 --items 10000

Options: --app, --cli and --driver give the binaries (defaults under
$CARGO_TARGET_DIR, else /var/cache/tessera-target); --display (default :77); --json FILE
writes the raw figures.

What is measured:

* start: a fresh TESSERA_HOME holding a copy of a vault made with `tessera init` (and a fresh
  HOME and XDG_RUNTIME_DIR, so WebKit's caches are cold; the OS page cache is warm). The clock
  starts just before `POST /session` (tauri-driver then starts WebKitWebDriver, which starts
  the app) and stops when `[data-testid="unlock-password"]` is first found by polling
  (`POST /elements` every ~10 ms). So it includes the WebDriver overhead (WebKitWebDriver's
  start, the automation session set-up, one poll's round trip). It also reports the share
  from the app process's start (from /proc/PID/stat, 10 ms resolution) to that same moment.
* memory: VmRSS from /proc/PID/status of tessera-app, and separately of its
  WebKitWebProcess and WebKitNetworkProcess children, 3 s after the unlock screen shows, and
  3 s after a vault of --items items is unlocked and its list shown (the vault is filled with
  `tessera import` before the app starts).
* key to frame: in the page, a capture-phase keydown listener records performance.now(); a
  MutationObserver on document.body, on the first mutation after a key press, schedules
  requestAnimationFrame and records the time from the key press to that callback. Queries are
  typed one character at a time with Element Send Keys, 300 ms apart. A key press after which
  the list did not change (same results) gives no figure. Clearing the field (back to the
  whole list) is reported separately. WebKit rounds performance.now() to 1 ms. The IPC round
  trip of the searches alone (`search_items` with the UI's limit of 200, and `list_items` of
  the whole vault, called through window.__TAURI_INTERNALS__.invoke) is timed afterwards.
* page: the web view's navigation start (performance.timeOrigin) after the app process's
  start, and its first-contentful-paint entry.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

PASSWORD = "correct horse battery staple 42!"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
QUERIES = ["prod", "grafana", "eu west", "postgres admin", "alice", "token"]

# ---------------------------------------------------------------------------------------------
# A deterministic synthetic vault, the shape of crates/core/benches/support/corpus.rs.

SERVICES = """github gitlab bitbucket aws gcp azure postgres mysql redis mongodb jenkins grafana
kibana elasticsearch kafka rabbitmq vault consul nomad kubernetes docker terraform datadog sentry
pagerduty slack jira confluence okta cloudflare stripe twilio sendgrid heroku netlify vercel npm
pypi artifactory nexus sonarqube circleci openvpn wireguard ldap keycloak airflow snowflake
bigquery redshift clickhouse cassandra memcached nginx haproxy prometheus splunk newrelic argocd
harbor""".split()
ENVS = "prod production staging stage dev development test qa sandbox uat preprod".split()
REGIONS = """us-east-1 us-west-2 eu-west-1 eu-central-1 ap-southeast-2 ap-northeast-1 sa-east-1
ca-central-1""".split()
TEAMS = """payments billing identity search platform infra data analytics mobile web growth
checkout orders inventory shipping marketing security compliance ml recommendations
notifications messaging reporting finance hr legal support sales partners onboarding""".split()
ROLES = "admin readonly deploy ci backup monitoring root service api migration replica owner".split()
FIRST = """alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy rupert
sybil trent victor walter xavier yvonne zoe aaron abigail adrian amelia andrew anna arthur
beatrice benjamin charlotte christopher daniel eleanor elizabeth emily ethan felix florence
george hannah harry isabella jack james jessica joseph katherine leo lucas margaret matthew mia
nathan oliver oscar patrick rachel samuel sophia thomas william zachary mohammed fatima yuki
hiroshi ingrid lars priya rahul chen wei sofia mateo lucia pierre amelie jurgen bjorn siobhan
aoife kwame amara""".split()
LAST = """smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez
lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white
harris sanchez clark ramirez lewis robinson walker young allen king wright scott torres nguyen
hill flores green adams nelson baker hall rivera campbell mitchell carter roberts schmidt
schneider fischer weber meyer wagner becker schulz hoffmann dubois lefebvre moreau laurent rossi
russo ferrari esposito bianchi kowalski nowak novak horvat jensen nielsen hansen andersson
johansson karlsson tanaka suzuki takahashi watanabe kim park choi singh kumar sharma patel okafor
mensah obrien murphy kelly walsh byrne silva santos oliveira""".split()
COMPANIES = """acme initech globex umbrella hooli piedpiper stark wayne wonka cyberdyne tyrell
soylent aperture massive vandelay bluth dundermifflin prestige oscorp gringotts""".split()
TLDS = "com io net org dev co.uk de".split()
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class Rng:
    """xorshift64*, as in the Rust corpus."""

    def __init__(self, seed):
        self.s = seed

    def next(self):
        s = self.s
        s ^= s >> 12
        s ^= (s << 25) & 0xFFFFFFFFFFFFFFFF
        s ^= s >> 27
        self.s = s
        return (s * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF

    def below(self, n):
        return self.next() % n

    def pick(self, xs):
        return xs[self.below(len(xs))]

    def chance(self, percent):
        return self.below(100) < percent

    def token(self, n, alphabet=ALNUM):
        return "".join(alphabet[self.below(len(alphabet))] for _ in range(n))


def corpus(n):
    r = Rng(0x5EED_7E55_E4A1)
    out = []
    for _ in range(n):
        svc, env, region, team, role = (r.pick(x) for x in (SERVICES, ENVS, REGIONS, TEAMS, ROLES))
        first, last, company, tld = r.pick(FIRST), r.pick(LAST), r.pick(COMPANIES), r.pick(TLDS)
        num = r.below(40)
        t = r.below(7)
        title = [
            f"{svc.title()} {env} {team}",
            f"{svc.title()} ({region})",
            f"{team.title()} {svc} {role}",
            f"{first.title()} {last.title()} {svc.title()}",
            f"{svc}-{env}-{num:02}.{region}",
            f"{svc.title()} {role} token",
            f"{company.title()} {svc.title()} {env}",
        ][t]
        kind = ["login"] * 5 + ["database", "api_token", "ssh_key", "secure_note", "totp"]
        kind = kind[r.below(10)]
        texts = [f"{first}.{last}@{company}.{tld}" if r.chance(50) else f"{role}-{svc}"]
        if r.chance(70):
            texts.append(f"https://{svc}.{company}.{tld}/{team}")
        if r.chance(40):
            texts.append(f"{svc}-{env}-{num}.{region}.{company}.internal")
        tags = [team] + ([env] if r.chance(60) else [])
        folder = [None, "personal", f"work/{team}", f"work/{team}"][r.below(4)]
        fields = [
            {"name": name, "kind": "text", "value": v}
            for name, v in zip(["username", "url", "host"], texts)
        ]
        notes = ""
        if kind == "ssh_key":
            fields.append({"name": "private_key", "kind": "concealed", "value": r.token(400)})
        elif kind == "secure_note":
            notes = r.token(200)
        elif kind == "totp":
            fields.append({"name": "totp", "kind": "totp", "value": r.token(32, BASE32)})
        else:
            fields.append({"name": "password", "kind": "concealed", "value": r.token(24)})
        item = {"kind": kind, "title": title, "fields": fields, "tags": tags,
                "favourite": r.chance(5)}
        if notes:
            item["notes"] = notes
        if folder:
            item["folder"] = folder
        out.append(item)
    return out


# ---------------------------------------------------------------------------------------------
# Helpers.


def now():
    """Seconds on CLOCK_BOOTTIME, the clock /proc/PID/stat's start time counts on."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def descendants(pid):
    kids, out, todo = children_map(), [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def exe_name(pid):
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return ""


def start_time(pid):
    """The process's start, in seconds on CLOCK_BOOTTIME (10 ms resolution)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    ticks = int(stat[stat.rindex(")") + 2:].split()[19])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_kib(pid, key="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def processes(driver_pid):
    """{name: [pid, ...]} of the driver's descendants."""
    out = {}
    for p in descendants(driver_pid):
        out.setdefault(exe_name(p), []).append(p)
    return out


def memory(driver_pid):
    procs = processes(driver_pid)
    out = {}
    for name in ("tessera-app", "WebKitWebProcess", "WebKitNetworkProcess"):
        pids = procs.get(name, [])
        out[name] = round(sum(rss_kib(p) for p in pids) / 1024, 1) if pids else None
        if name == "tessera-app" and pids:
            # The split of the app's RSS: its own heap and stacks, and mapped files (GTK and
            # WebKitGTK libraries, shared with other processes using them).
            for key in ("RssAnon", "RssFile", "RssShmem"):
                out[f"{name} {key}"] = round(rss_kib(pids[0], key) / 1024, 1)
    return out


def run(cmd, env, stdin=None):
    p = subprocess.run(cmd, env=env, input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p.stdout


def make_vault(cli, home, pwfile, items, tmp):
    """A vault in `home` made by the CLI, with `items` imported; locked, no agent left."""
    env = dict(os.environ, TESSERA_HOME=home, HOME=tmp)
    run([cli, "init", "--password-file", pwfile], env)
    if items:
        path = os.path.join(tmp, "items.json")
        with open(path, "w") as f:
            json.dump(corpus(items), f)
        run([cli, "unlock", "--password-file", pwfile], env)
        t = time.monotonic()
        run([cli, "import", path], env)
        print(f"  imported {items} items in {time.monotonic() - t:.2f} s", file=sys.stderr)
        os.remove(path)
    subprocess.run([cli, "lock"], env=env, capture_output=True)
    deadline = time.monotonic() + 10
    while os.path.exists(os.path.join(home, "agent.sock")) and time.monotonic() < deadline:
        try:
            socket.socket(socket.AF_UNIX).connect(os.path.join(home, "agent.sock"))
        except OSError:
            break
        time.sleep(0.1)


class Session:
    """tauri-driver plus one W3C WebDriver session on the app."""

    def __init__(self, driver, env):
        self.port, native = free_port(), free_port()
        self.log = os.path.join(env["HOME"], "driver.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [driver, "--port", str(self.port), "--native-port", str(native)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.base = f"http://127.0.0.1:{self.port}"
        self.id = None
        self.dropped = 0
        # Both tauri-driver and the WebKitWebDriver it starts must listen before the session
        # is asked for (else tauri-driver answers the first request with a connect error).
        deadline = time.monotonic() + 20
        for port in (self.port, native):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"port {port} did not listen") from None
                    time.sleep(0.02)

    def send(self, method, path, body=None):
        # tauri-driver now and then drops a proxied request without an answer (it seems to
        # reuse a connection to WebKitWebDriver that was closed while idle); such a request is
        # sent once more, except the one that starts the app.
        for attempt in range(3):
            try:
                return self.send_once(method, path, body)
            except ConnectionError:
                if path == "/session" or attempt == 2:
                    raise
                self.dropped += 1

    def send_once(self, method, path, body=None):
        data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.loads(r.read() or b"null")["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:500]!r}") from None
        except OSError as e:
            with open(self.log) as f:
                raise ConnectionError(f"{method} {path}: {e}; tauri-driver said:\n{f.read()}") from None

    def open(self, app):
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "wry", "tauri:options": {"application": app}}}}
        self.id = self.send("POST", "/session", caps)["sessionId"]

    def s(self, rest):
        return f"/session/{self.id}{rest}"

    def find_all(self, css):
        v = self.send("POST", self.s("/elements"), {"using": "css selector", "value": css})
        return [e[ELEMENT] for e in v or []]

    def wait(self, css, limit=30, every=0.01):
        deadline = time.monotonic() + limit
        while True:
            found = self.find_all(css)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {css}")
            time.sleep(every)

    def script(self, js, args=()):
        return self.send("POST", self.s("/execute/sync"), {"script": js, "args": list(args)})

    def send_keys(self, el, text):
        self.send("POST", self.s(f"/element/{el}/value"), {"text": text})

    def click(self, el):
        self.send("POST", self.s(f"/element/{el}/click"))

    def keys(self, chord):
        acts = [{"type": "keyDown", "value": k} for k in chord]
        acts += [{"type": "keyUp", "value": k} for k in reversed(chord)]
        self.send("POST", self.s("/actions"),
                  {"actions": [{"type": "key", "id": "keyboard", "actions": acts}]})
        self.send("DELETE", self.s("/actions"))

    def close(self):
        if self.id:
            try:
                self.send("DELETE", self.s(""))
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        kids = descendants(self.proc.pid)
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        deadline = time.monotonic() + 5
        for p in kids:
            while os.path.exists(f"/proc/{p}") and time.monotonic() < deadline:
                time.sleep(0.05)
            if os.path.exists(f"/proc/{p}"):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def fresh_env(tmp, template, display, n):
    root = os.path.join(tmp, f"run{n}")
    home = os.path.join(root, "home")
    vault = os.path.join(root, "vault")
    rt = os.path.join(root, "run")
    os.makedirs(home)
    os.makedirs(rt, mode=0o700)
    shutil.copytree(template, vault, ignore=shutil.ignore_patterns("agent.sock"))
    return dict(os.environ, HOME=home, TESSERA_HOME=vault, XDG_RUNTIME_DIR=rt, DISPLAY=display,
                NO_AT_BRIDGE="1", WEBKIT_DISABLE_COMPOSITING_MODE="1", GDK_BACKEND="x11")


PAGE_TIMES = """
const nav = performance.getEntriesByType('navigation')[0];
const paint = {};
for (const p of performance.getEntriesByType('paint')) paint[p.name] = p.startTime;
return {origin: performance.timeOrigin, now: performance.now(),
        domContentLoaded: nav ? nav.domContentLoadedEventEnd : null,
        load: nav ? nav.loadEventEnd : null, paint};
"""

KEY_TO_FRAME = """
window.__k2f = [];
let pending = null;
document.addEventListener('keydown', (e) => { pending = {t: performance.now(), key: e.key}; },
                          true);
new MutationObserver((records) => {
  if (pending === null) return;
  const p = pending; pending = null;
  const changed = performance.now();
  const target = records[0].target;
  const where = (target.nodeType === 1 ? target : target.parentElement)
    ?.closest('[data-testid], [class]');
  requestAnimationFrame(() => {
    const frame = performance.now();
    window.__k2f.push({key: p.key, mutation: changed - p.t, frame: frame - p.t,
                       first: where ? (where.dataset.testid || where.className) : null});
  });
}).observe(document.body, {subtree: true, childList: true, characterData: true,
                           attributes: true});
return true;
"""


IPC_TIMES = """
const [queries, done] = arguments;
const invoke = window.__TAURI_INTERNALS__.invoke;
(async () => {
  const out = {search: [], list: []};
  for (let round = 0; round < 3; round++) {
    for (const q of queries) {
      for (let i = 1; i <= q.length; i++) {
        const t = performance.now();
        await invoke('search_items', {query: q.slice(0, i), filter: {}, limit: 200});
        out.search.push(performance.now() - t);
      }
    }
    const t = performance.now();
    const all = await invoke('list_items', {filter: {}});
    out.list.push(performance.now() - t);
    out.listed = all.length;
  }
  return out;
})().then(done, (e) => done({error: String(e)}));
"""


def median(xs):
    return statistics.median(xs) if xs else None


def main():
    target = os.environ.get("CARGO_TARGET_DIR", "/var/cache/tessera-target")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--display", default=":77")
    ap.add_argument("--app", default=f"{target}/release/tessera-app")
    ap.add_argument("--cli", default=f"{target}/release/tessera")
    ap.add_argument("--driver", default=shutil.which("tauri-driver")
                    or f"{target}/tools/bin/tauri-driver")
    ap.add_argument("--json")
    a = ap.parse_args()

    xvfb = None
    n = a.display.lstrip(":")
    if not os.path.exists(f"/tmp/.X11-unix/X{n}"):
        xvfb = subprocess.Popen(["Xvfb", a.display, "-screen", "0", "1280x860x24", "-nolisten",
                                 "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(f"/tmp/.X11-unix/X{n}"):
            if time.monotonic() > deadline:
                sys.exit("Xvfb did not start")
            time.sleep(0.05)

    tmp = tempfile.mkdtemp(prefix="tessera-perf-")
    out = {"app_bytes": os.path.getsize(a.app), "start": [], "idle_mib": [], "items": a.items}
    try:
        pw = os.path.join(tmp, "password")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(pw, 0o600)
        print("making the vaults", file=sys.stderr)
        empty = os.path.join(tmp, "vault-empty")
        full = os.path.join(tmp, "vault-full")
        make_vault(a.cli, empty, pw, 0, tmp)
        make_vault(a.cli, full, pw, a.items, tmp)

        # ---- cold start to the unlock screen; memory idle there ----
        out["failed_starts"] = []
        i = attempt = 0
        while i < a.runs:
            attempt += 1
            if attempt > a.runs + 5:
                sys.exit("too many failed starts")
            s = Session(a.driver, fresh_env(tmp, empty, a.display, f"start{attempt}"))
            try:
                t0 = now()
                s.open(a.app)
                t_session = now()
                s.wait('[data-testid="unlock-password"]')
                t1 = now()
                apps = processes(s.proc.pid).get("tessera-app", [])
                started = start_time(apps[0]) if apps else None
                page = s.script(PAGE_TIMES)
                if started:
                    epoch_ms = (started + time.time() - now()) * 1000
                    page["process_start_to_time_origin_ms"] = page["origin"] - epoch_ms
                time.sleep(3)
                mem = memory(s.proc.pid)
                r = {"total_ms": (t1 - t0) * 1000, "post_session_ms": (t_session - t0) * 1000,
                     "process_start_to_screen_ms": (t1 - started) * 1000 if started else None,
                     "post_to_process_start_ms": (started - t0) * 1000 if started else None,
                     "page": page, "mem_mib": mem}
                if s.dropped:
                    r["dropped_polls"] = s.dropped
                out["start"].append(r)
                i += 1
                print(f"  start {i}: {r['total_ms']:.0f} ms (POST /session "
                      f"{r['post_session_ms']:.0f} ms; app process start to screen "
                      f"{r['process_start_to_screen_ms']:.0f} ms); RSS {mem}", file=sys.stderr)
            except ConnectionError as e:
                out["failed_starts"].append(str(e).splitlines()[0])
                print(f"  start failed, not counted: {str(e).splitlines()[0]}", file=sys.stderr)
            finally:
                s.close()

        # ---- a big vault: unlock, memory, key press to frame ----
        s = Session(a.driver, fresh_env(tmp, full, a.display, "full"))
        try:
            s.open(a.app)
            pwd = s.wait('[data-testid="unlock-password"]')
            time.sleep(2)
            out["idle_full_vault_mib"] = memory(s.proc.pid)
            s.send_keys(pwd, PASSWORD)
            t = time.monotonic()
            s.click(s.wait('[data-testid="unlock-submit"]'))
            s.wait('[data-testid="item-row"]', every=0.01)
            out["unlock_to_list_ms"] = (time.monotonic() - t) * 1000
            count = s.script("return document.querySelector('.list-meta').textContent.trim();")
            out["list_meta"] = count
            time.sleep(3)
            out["unlocked_mib"] = memory(s.proc.pid)
            print(f"  unlocked {count!r} in {out['unlock_to_list_ms']:.0f} ms (click to first "
                  f"row, via WebDriver); RSS {out['unlocked_mib']}", file=sys.stderr)

            search = s.wait('[data-testid="search"]')
            s.click(search)
            s.script(KEY_TO_FRAME)
            for q in QUERIES:
                for c in q:
                    s.send_keys(search, c)
                    time.sleep(0.3)
                s.click(search)
                s.keys(["\ue009", "a"])
                s.keys(["\ue003"])
                time.sleep(0.6)
            out["key_to_frame"] = s.script("return window.__k2f;")
            out["dropped_requests_big_vault"] = s.dropped
            out["ipc"] = s.send("POST", s.s("/execute/async"), {"script": IPC_TIMES,
                                                                 "args": [QUERIES]})
            time.sleep(1)
            out["after_search_mib"] = memory(s.proc.pid)
        finally:
            s.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if xvfb:
            xvfb.terminate()
            xvfb.wait()

    # ---- summary ----
    def ms(xs):
        return f"median {median(xs):.1f} ms, max {max(xs):.1f} ms, n={len(xs)}" if xs else "none"

    totals = [r["total_ms"] for r in out["start"]]
    proc = [r["process_start_to_screen_ms"] for r in out["start"] if r["process_start_to_screen_ms"]]
    typed = [k for k in out["key_to_frame"] if k["key"] != "Backspace"]
    cleared = [k for k in out["key_to_frame"] if k["key"] == "Backspace"]
    print(f"release binary: {out['app_bytes'] / 1e6:.2f} MB ({out['app_bytes']} bytes)")
    print(f"start to unlock screen (WebDriver, {a.runs} runs): median {median(totals):.0f} ms, "
          f"all {[round(x) for x in totals]}")
    print(f"  failed starts (WebDriver errors, retried): {out['failed_starts']}")
    print(f"  of which app process start to screen: median {median(proc):.0f} ms, "
          f"all {[round(x) for x in proc]}")
    for name in ("tessera-app", "tessera-app RssAnon", "tessera-app RssFile",
                 "WebKitWebProcess", "WebKitNetworkProcess"):
        idle = [r["mem_mib"][name] for r in out["start"] if r["mem_mib"][name] is not None]
        print(f"RSS {name}: idle at unlock median {median(idle)} MiB; "
              f"{a.items}-item vault unlocked {out['unlocked_mib'][name]} MiB; after searching "
              f"{out['after_search_mib'][name]} MiB")
    print(f"unlock click to first row ({out['list_meta']}): {out['unlock_to_list_ms']:.0f} ms")
    print(f"key to frame while typing: {ms([k['frame'] for k in typed])}")
    print(f"  key to first DOM change: {ms([k['mutation'] for k in typed])}")
    print(f"key to frame clearing the field (whole list back): {ms([k['frame'] for k in cleared])}")
    keys = sum(len(q) for q in QUERIES)
    print(f"  {keys} characters typed, {len(typed)} changed the list")
    ipc_t = out["ipc"]
    if "error" in ipc_t:
        print(f"IPC timing failed: {ipc_t['error']}")
    else:
        print(f"IPC round trip from the page: search_items (limit 200) {ms(ipc_t['search'])}; "
              f"list_items ({ipc_t['listed']} items) {ms(ipc_t['list'])}")
    fcp = [r["page"]["paint"].get("first-contentful-paint") for r in out["start"]]
    org = [r["page"].get("process_start_to_time_origin_ms") for r in out["start"]]
    print(f"page: process start to navigation start {[round(x) for x in org if x is not None]} ms;"
          f" first contentful paint {fcp} ms after navigation start")
    print(f"  first mutated element: {sorted(set(str(k['first']) for k in out['key_to_frame']))}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
