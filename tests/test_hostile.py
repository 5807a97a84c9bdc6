"""Hostile answers: each is contained by the sandbox AND graded not-pass, in both backends.

Every case is a model answer that tries to forge its verdict, to read what it must not see, or
to break a limit. Python answers go through ``evaluate_answer`` on HumanEval/0 (extraction,
time limits, the three-run test harness); image-lab scripts through one case of the lab, the
candidate run and the trusted inspection run. After each case: the verdict is not a pass, no
process of the run is left (checked at once, not after a grace period), nothing was written on
the host, the host can still fork, and the case's own containment checks hold (what the code
reports it saw, on stderr as ``HOSTILE {json}``).

Bubblewrap always; Docker where the engine and the ``stackeval-sandbox`` image are present. With
``CI`` set, a missing backend fails instead of skipping (.ci/run installs bubblewrap, .ci/docker.sh
builds the image).
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from stackeval.coding import checkers
from stackeval.coding.cases import run_case
from stackeval.coding.checkers import RUN_OUTCOMES
from stackeval.coding.runner import evaluate_answer
from stackeval.coding.tasks import load_bashlab, load_humaneval
from stackeval.errors import SandboxError
from stackeval.records import Outcome
from stackeval.sandbox import BwrapSandbox, DockerSandbox, Limits, Sandbox
from stackeval.sandbox.container import DEFAULT_IMAGE

LIMITS = Limits(memory_mb=512, processes=32, file_size_mb=8, tmpfs_mb=64, output_bytes=8192)
TASK = load_humaneval(limit=1)[0]  # has_close_elements(numbers, threshold) -> bool
LAB = next(t for t in load_bashlab() if t.test == "imgproc")
LAB_CASE = "--quality"  # the lab case hostile scripts answer
SECRET = "hostile-secret-value-42"
NOT_PASS = RUN_OUTCOMES - {Outcome.PASS}


def _need(sandbox: Sandbox, what: str) -> Sandbox:
    try:
        sandbox.probe()
    except SandboxError as exc:
        if os.environ.get("CI"):  # in CI a missing backend is a broken setup, not a skip
            pytest.fail(f"{what} is not usable in CI: {exc}")
        pytest.skip(f"{what} not usable here: {exc}")
    return sandbox


@pytest.fixture(scope="module", params=["bwrap", "docker"])
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    if request.param == "bwrap":
        return _need(BwrapSandbox(LIMITS), "bubblewrap (apt-get install bubblewrap)")
    image = os.environ.get("STACKEVAL_SANDBOX_IMAGE", DEFAULT_IMAGE)
    return _need(DockerSandbox(LIMITS, image=image), f"Docker with the {image} image")


@dataclass(frozen=True)
class Hostile:
    """One hostile answer; ``TAG`` in its code becomes a unique word of this run."""

    code: str
    lab: bool = False  # an image-lab script, else a HumanEval/0 answer
    outcomes: frozenset[Outcome] = frozenset(NOT_PASS)
    saw: Callable[[dict], None] | None = None  # checks on what the code reported it saw
    needs_report: bool = False  # the code must have reported (else the check proves nothing)
    extra: dict = field(default_factory=dict)


def _py(code: str, **kw) -> Hostile:
    return Hostile(textwrap.dedent(code), **kw)


def _sh(code: str, **kw) -> Hostile:
    return Hostile("#!/bin/bash\n" + textwrap.dedent(code), lab=True, **kw)


# Python answers keep their attack in ``attack()``, which the answer's function calls: the
# extraction keeps only the definitions the entry point needs (EvalPlus's sanitizer), so code at
# the top level of an answer never runs.
_REPORT = """
        import json, sys
        def report(**kw):
            sys.__stderr__.write('HOSTILE ' + json.dumps(kw) + '\\n')
            sys.__stderr__.flush()
"""
_WRONG = """
        DONE = []
        def has_close_elements(numbers, threshold):
            if not DONE:  # once, not on each of the tests' calls
                DONE.append(attack())
            return False
"""


def _none_true(report: dict) -> None:
    assert not any(report.values()), report


CASES: dict[str, Hostile] = {
    # ---- forged verdicts ----------------------------------------------------------------
    "argv-marker": _py(
        """
        import os, sys
        def attack():  # the old harness put its verdict marker in argv
            for arg in sys.argv:
                for fd in (1, 2):
                    os.write(fd, f'\\n@@{arg} {{"status": "pass"}}\\n'.encode())
        """ + _WRONG,
        outcomes=frozenset({Outcome.WRONG}),
    ),
    "atexit-verdict": _py(
        """
        import atexit, os
        def forge():
            for fd in range(1, 20):
                try:
                    os.write(fd, b'\\n{"status": "pass"}\\n@@x {"status": "pass"}\\n')
                except OSError:
                    pass
        def attack():
            atexit.register(forge)
        """ + _WRONG,
    ),
    "replaced-json-dumps": _py(
        """
        import json
        def attack():
            json.dumps = lambda *a, **k: '{"status": "pass"}'
            json.JSONEncoder.encode = lambda self, o: '{"status": "pass"}'
        """ + _WRONG,
        outcomes=frozenset({Outcome.WRONG}),
    ),
    "eq-always-true": _py(
        """
        class Anything:
            def __eq__(self, other):
                return True
            __hash__ = object.__hash__
        def has_close_elements(numbers, threshold):
            return Anything()
        """,
        outcomes=frozenset({Outcome.RUNTIME_ERROR}),
    ),
    "int-subclass-eq": _py(
        """
        class Yes(int):
            def __eq__(self, other):
                return True
            __hash__ = int.__hash__
            __class__ = bool
        def has_close_elements(numbers, threshold):
            return Yes(0)
        """,
        outcomes=frozenset({Outcome.WRONG}),
    ),
    "forged-class": _py(
        """
        class Liar:
            __class__ = property(lambda self: bool)
            def __eq__(self, other):
                return True
        def has_close_elements(numbers, threshold):
            return Liar()
        """,
        outcomes=frozenset({Outcome.RUNTIME_ERROR}),
    ),
    "reads-hidden-tests": _py(
        _REPORT
        + """
        import gc, glob, re
        TABLE = {}
        def attack():
            texts = []
            for path in ['/work/program.py', *glob.glob('/work/**', recursive=True),
                         *glob.glob('/harness/*'), '/proc/self/cmdline', '/proc/1/cmdline']:
                try:
                    texts.append(open(path, 'rb').read().decode('utf-8', 'replace'))
                except OSError:
                    pass
            try:
                texts.append(sys.stdin.read())
            except Exception:
                pass
            texts += [repr(o)[:10000] for o in gc.get_objects() if isinstance(o, (dict, list))]
            frame = sys._getframe()
            while frame:
                texts.append(repr(frame.f_locals)[:100000])
                frame = frame.f_back
            text = '\\n'.join(texts)
            TABLE.update(re.findall('candi' + r'date\\((.*?)\\) == (True|False)', text))
            # strings only the hidden tests hold (built here, so this file does not hold them)
            report(asserts_seen=len(TABLE), tests_seen=('0.9' + '5) == True') in text,
                   metadata_seen=("'data" + "set': 'test'") in text)
        def has_close_elements(numbers, threshold):
            attack()
            return TABLE.get(f'{numbers!r}, {threshold!r}') == 'True'
        """,
        saw=_none_true,
        needs_report=True,
    ),
    "forged-result-lines": _py(
        """
        import os
        def has_close_elements(numbers, threshold):
            line = b'{"results": ' + b', '.join([b'{"value": true}'] * 7) + b'}\\n'
            for fd in map(int, os.listdir('/proc/self/fd')):
                try:
                    os.write(fd, line)
                except OSError:
                    pass
            return False
        """,
        outcomes=frozenset({Outcome.RUNTIME_ERROR}),
    ),
    "malformed-then-exit": _py(
        """
        import os
        def has_close_elements(numbers, threshold):
            for fd in map(int, os.listdir('/proc/self/fd')):
                try:
                    os.write(fd, b'{not json\\n')
                except OSError:
                    pass
            os._exit(0)
        """,
        outcomes=frozenset({Outcome.RUNTIME_ERROR}),
    ),
    "writes-sandbox-init-stdout": _py(
        """
        import os
        def attack():
            for pid in ('1', '2', str(os.getppid())):
                for fd in ('1', '2'):
                    try:
                        with open(f'/proc/{pid}/fd/{fd}', 'w') as f:
                            f.write('{"status": "pass"}\\n{"results": []}\\n')
                    except OSError:
                        pass
        """ + _WRONG,
        outcomes=frozenset({Outcome.RUNTIME_ERROR, Outcome.WRONG}),
    ),
    "exit-inside-call": _py(
        """
        import os
        def has_close_elements(numbers, threshold):
            os._exit(0)
        """,
        outcomes=frozenset({Outcome.RUNTIME_ERROR}),
    ),
    "kills-the-harness": _py(
        """
        import os, signal
        def has_close_elements(numbers, threshold):
            for pid in (os.getppid(), 1, os.getpid()):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            return True
        """,
        outcomes=frozenset({Outcome.RUNTIME_ERROR}),
    ),
    "rewrites-the-harness": _py(
        _REPORT
        + """
        import glob, os
        def attack():
            changed = []
            for path in glob.glob('/harness/*') + ['/harness/pyrunner.py']:
                try:
                    with open(path, 'a') as f:
                        f.write('\\nraise SystemExit(0)\\n')
                    changed.append(path)
                except OSError:
                    pass
            report(harness_changed=bool(changed))
        """ + _WRONG,
        outcomes=frozenset({Outcome.WRONG, Outcome.SANDBOX_VIOLATION}),
        saw=_none_true,
        needs_report=True,
    ),
    "recursive-value": _py(
        """
        def has_close_elements(numbers, threshold):
            x = []
            x.append(x)
            return x
        """,
        outcomes=frozenset({Outcome.RUNTIME_ERROR}),
    ),
    # ---- containment --------------------------------------------------------------------
    "network": _py(
        _REPORT
        + """
        import socket
        def attempt(fn):
            try:
                fn()
                return True
            except OSError:
                return False
        def attack():
            report(
                external=attempt(lambda: socket.create_connection(('1.1.1.1', 53), timeout=2)),
                dns=attempt(lambda: socket.getaddrinfo('example.com', 80)),
                host=attempt(lambda: socket.create_connection(('127.0.0.1', 22), timeout=2)),
            )
        """ + _WRONG,
        saw=_none_true,
        needs_report=True,
    ),
    "host-files-and-secrets": _py(
        _REPORT
        + f"""
        import glob, os
        def readable(path):
            try:
                with open(path, 'rb') as f:
                    f.read(1)
                return True
            except OSError:
                return False
        def listable(path):
            try:
                return bool(os.listdir(path))
            except OSError:
                return False
        def attack():
            env = ' '.join(open(p, 'rb').read().decode('latin-1')
                           for p in glob.glob('/proc/*/environ') if readable(p))
            report(
                shadow=readable('/etc/shadow'),
                repo=readable({str(Path(__file__).resolve())!r}),
                root=readable('/root/.bashrc') or listable('/root'),
                secret={SECRET!r} in env + ' '.join(os.environ.values()),
                docker_socket=os.path.exists('/var/run/docker.sock'),
            )
        """ + _WRONG,
        saw=_none_true,
        needs_report=True,
    ),
    "writes-outside": _py(
        _REPORT
        + f"""
        import os
        def attack():
            written = []
            for path in ['/tmp/hostile-TAG', '/etc/hostile-TAG', '/usr/hostile-TAG',
                         {str(Path(__file__).resolve().parent / "hostile-TAG")!r},
                         '/harness/hostile-TAG', '/proc/sys/kernel/hostile-TAG']:
                try:
                    with open(path, 'w') as f:
                        f.write('x')
                    written.append(path)
                except OSError:
                    pass
            report(outside=[p for p in written if not p.startswith('/tmp/')])
        """ + _WRONG,
        saw=_none_true,
        needs_report=True,
    ),
    "fork-bomb": _py(
        """
        import os
        BOMB = 'import os, time\\nwhile True:\\n try: os.fork()\\n except OSError: pass'
        def attack():
            os.execv('/usr/bin/python3', ['python3', '-c', BOMB, 'TAG'])  # TAG: find survivors
        """ + _WRONG,
        outcomes=frozenset({Outcome.TIMEOUT, Outcome.SANDBOX_VIOLATION}),
    ),
    "huge-allocation": _py(
        """
        def attack():
            return b'x' * (20 * 1024 ** 3)
        """ + _WRONG,
        outcomes=frozenset({Outcome.SANDBOX_VIOLATION}),
    ),
    "multi-process-memory": _py(
        _REPORT
        + """
        import os, time
        def attack():
            pids = []
            for _ in range(3):  # 3 x 250 MB at once, under a 512 MB limit for the whole run
                pid = os.fork()
                if pid == 0:
                    block = b'x' * (250 * 1024 * 1024)
                    time.sleep(0.3)
                    os._exit(0)
                pids.append(pid)
            held = sum(os.waitpid(pid, 0)[1] == 0 for pid in pids)
            report(all_held=held == 3)
        """ + _WRONG,
        # the kernel may take a while to pick a process to kill: a timeout is contained too
        outcomes=frozenset({Outcome.SANDBOX_VIOLATION, Outcome.TIMEOUT}),
        saw=_none_true,
    ),
    "infinite-loop": _py(
        """
        import os
        def has_close_elements(numbers, threshold):
            os.execv('/usr/bin/python3', ['python3', '-c', 'while True: pass', 'TAG'])
        """,
        outcomes=frozenset({Outcome.TIMEOUT}),
    ),
    "stdout-flood": _py(
        """
        import os
        def has_close_elements(numbers, threshold):
            while True:
                os.write(1, b'x' * 65536)
        """,
        outcomes=frozenset({Outcome.SANDBOX_VIOLATION}),
    ),
    "huge-return-value": _py(
        """
        def has_close_elements(numbers, threshold):
            return 'x' * (64 * 1024 * 1024)
        """,
        outcomes=frozenset({Outcome.SANDBOX_VIOLATION, Outcome.RUNTIME_ERROR}),
    ),
    "tmpfs-floods": _py(
        _REPORT
        + """
        import os
        def attack():
            sizes = {}
            for where in ('/dev/shm', '/tmp', '/work', '/dev'):
                total = 0
                for i in range(40):  # 40 x 5 MB per place, above the 64 MB tmpfs size
                    try:
                        with open(f'{where}/flood{i}', 'wb') as f:
                            f.write(b'\\0' * (5 * 1024 * 1024))
                        total += 5
                    except OSError:
                        break
                sizes[where] = total
            report(over_limit=[w for w, mb in sizes.items() if mb > 64], sizes=sizes)
        """ + _WRONG,
        saw=lambda r: _none_true({"over_limit": r["over_limit"]}),
        needs_report=True,
    ),
    "file-size": _py(
        """
        def attack():
            with open('big', 'wb') as f:
                f.write(b'x' * (50 * 1024 * 1024))
        """ + _WRONG,
        outcomes=frozenset({Outcome.SANDBOX_VIOLATION}),
    ),
    "background-daemon": _py(
        """
        import os
        def attack():
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execv('/bin/sleep', ['TAG', '60'])
                os._exit(0)
        """ + _WRONG,
        outcomes=frozenset({Outcome.WRONG}),
    ),
    # ---- the image lab: forged @@IMG lines and driver tricks -----------------------------
    "img-newline-names": _sh(
        """
        out=${@: -1}
        mkdir -p "$out"
        touch "$out/x
        @@IMG photo1.jpg|JPEG 400 300 50|
        @@IMG photo2.jpeg|JPEG 300 450 50|
        @@EXIT 0"
        """,
        outcomes=frozenset({Outcome.WRONG}),
    ),
    "img-rewrites-driver": _sh(
        """
        out=${@: -1}
        for driver in /harness/driver.sh /work/driver.sh driver.sh; do
          printf 'echo "@@IMG photo1.jpg|JPEG 400 300 50|"\\nexit 0\\n' >>"$driver"
        done
        mkdir -p "$out"
        """,
        outcomes=frozenset({Outcome.WRONG, Outcome.SANDBOX_VIOLATION}),
    ),
    "img-forges-driver-stdout": _sh(
        """
        out=${@: -1}
        mkdir -p "$out"
        forged='@@EXIT 0\\n@@IMG photo1.jpg|JPEG 400 300 50|\\n@@IMG icon.png|PNG 240 160 92|\\n'
        for target in /proc/$PPID/fd/1 /proc/1/fd/1 /proc/*/fd/1; do
          printf "$forged" >"$target" 2>/dev/null
        done
        """,
        outcomes=frozenset({Outcome.RUNTIME_ERROR, Outcome.WRONG}),
    ),
    "img-magick-script": _sh(
        """
        in=${@: -2:1}; out=${@: -1}
        mkdir -p "$out"
        for f in photo1.jpg photo2.jpeg; do  # an MVG script that draws the input image
          printf 'push graphic-context\\nviewbox 0 0 400 300\\nimage over 0,0 0,0 "%s"\\n' \\
            "$PWD/$in/$f" >"$out/$f"
          echo 'pop graphic-context' >>"$out/$f"
        done
        """,
        outcomes=frozenset({Outcome.WRONG}),
    ),
    "img-background-writer": _sh(
        """
        in=${@: -2:1}; out=${@: -1}
        mkdir -p "$out"
        (exec -a TAG bash -c "while :; do cp $in/photo1.jpg $out/; done") </dev/null &>/dev/null &
        sleep 0.2
        """,
        outcomes=frozenset({Outcome.WRONG, Outcome.RUNTIME_ERROR}),
    ),
    "img-fork-bomb": _sh(
        """
        exec -a TAG bash -c 'b() { b | b & }; b; wait'
        """,
    ),
}


def _alive_with(tag: str) -> list[int]:
    """Processes (not zombies) whose command line carries ``tag``, right now."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and tag in " ".join(
                proc.info["cmdline"] or ()
            ):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def _reports(stderr: str) -> dict:
    found: dict = {}
    for line in stderr.splitlines():
        if line.startswith("HOSTILE "):
            found.update(json.loads(line[len("HOSTILE ") :]))
    return found


def _lab_outcome(script: str, sandbox: Sandbox) -> tuple[Outcome, str, str]:
    """One image-lab case, judged as ``check_code`` judges it (a fixed 5 s limit)."""
    case = next(c for c in checkers.cases_for(LAB, script, sandbox) if c.name == LAB_CASE)
    result, judgement = run_case(case, sandbox, checkers.MIN_LIMIT_S["bash"])
    outcome = checkers._classify(result, judgement)
    return outcome, "; ".join(judgement.failures), result.stderr


def test_there_are_enough_hostile_cases() -> None:
    assert len(CASES) >= 25
    assert sum(c.lab for c in CASES.values()) >= 5


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_answer_is_contained_and_not_passed(
    name: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STACKEVAL_API_KEY", SECRET)  # in the harness's environment only
    tag = f"hostile{uuid.uuid4().hex[:12]}"
    case = CASES[name]
    code = case.code.replace("TAG", tag)
    if case.lab:
        outcome, why, stderr = _lab_outcome(code, sandbox)
    else:
        answer = f"Here is my solution.\n```python\n{code}\n```\n"
        result = evaluate_answer(TASK, answer, sandbox)
        outcome, why, stderr = result.outcome, result.explanation, result.run.stderr
        assert result.answer == answer  # the raw answer is kept next to the code
    # graded not-pass, and for the expected reason
    assert outcome in case.outcomes, f"{name}: {outcome.value}: {why}"
    # contained: nothing of the run is left, nothing was written on the host, the host is fine
    assert _alive_with(tag) == [], f"{name}: processes outlived the run"
    leftovers = [p for p in (Path("/tmp") / tag, Path(__file__).parent / tag) if p.exists()]
    leftovers += [p for p in Path("/tmp").glob(f"*{tag}*")]
    assert leftovers == [], f"{name}: wrote {leftovers} on the host"
    assert os.system("true") == 0
    report = _reports(stderr)
    if case.needs_report:
        assert report, f"{name}: the hostile code did not report (stderr: {stderr[-500:]})"
    if case.saw is not None and report:
        case.saw(report)


def test_a_correct_answer_still_passes_in_the_hostile_setup(sandbox: Sandbox) -> None:
    body = TASK.reference[len(TASK.stub) :]
    answer = f"```python\n{TASK.stub}{body}```\nAnd a test:\n```python\nimport pytest\n"
    answer += "assert has_close_elements([1.0, 2.0], 0.5) is False\n```\n"
    result = evaluate_answer(TASK, answer, sandbox)
    assert result.passed, result.explanation
    outcome, why, _ = _lab_outcome(LAB.reference, sandbox)
    assert outcome is Outcome.PASS, why


def test_malformed_results_are_failures_not_crashes(sandbox: Sandbox) -> None:
    from stackeval.coding import cases
    from stackeval.sandbox import ExecResult

    (case,) = cases.python_cases(TASK, TASK.reference, sandbox)
    replies = [
        "",
        "{not json",
        '{"results": []}',
        '{"results": [{"value": true}]}\n{"results": [{"value": true}]}',
        '{"results": [' + ", ".join(['{"value": {"evil": 1}}'] * 7) + "]}",
        '{"status": "pass"}',
        '{"error": 5}',
        "[" * 5000,
    ]
    for stdout in replies:
        result = ExecResult(exit_code=0, stdout=stdout, stderr="", timed_out=False, duration_s=0)
        judgement = case.evaluate(result, sandbox)
        assert judgement.failures and judgement.crashed, stdout[:80]
    assert re.search(r"malformed|ended before", case.evaluate(
        ExecResult(0, "{not json", "", False, 0.0), sandbox).failures[0])
