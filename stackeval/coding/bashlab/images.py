"""Task 1 of the bash lab: image processing, run and inspected in two sandbox runs."""

from __future__ import annotations

import base64
import io
import re
import shlex
import tarfile

from stackeval.coding import datagen
from stackeval.coding.bashlab.checks import (
    help_case,
)
from stackeval.coding.cases import TRUSTED_TIMEOUT_S, Case, Judgement
from stackeval.errors import GraderError
from stackeval.sandbox import ExecResult, Sandbox

# ---- task 1: image processing -------------------------------------------------------------
#
# Two sandbox runs per option. The first runs the candidate's script under a read-only driver
# that builds the input images and sends out/ back as a base64 tar on stdout. Anything that run
# prints could come from the candidate, so it is only data: forging it amounts to writing those
# files. The second run has no candidate code at all: ImageMagick inspects the received files,
# under names the harness chose and with the coder the harness picked from each file's magic
# bytes, and only its lines are read as the description of the images.

_DRIVER = """\
#!/bin/bash
# stackeval's driver (read-only): build the inputs, run the candidate, send back out/
here=$(dirname "$0")
if ! bash "$here/make_images.sh" >/dev/null 2>setup.err; then
  echo "@@SETUP_FAILED $(head -c 500 setup.err | tr '\\n' ' ')"
  exit 90
fi
mkdir -p out
bash @SCRIPT@ "$@" in out </dev/null >candidate.out 2>candidate.err
status=$?
head -c 2000 candidate.err >&2
echo "@@EXIT $status"
echo "@@OUT"
tar -C out -chf - . 2>/dev/null | base64 -w 0
echo
echo "@@END"
exit "$status"
"""
_INSPECT = """\
#!/bin/bash
# stackeval's inspector: describes the images a candidate wrote; no candidate code runs here.
# Each line of list.tsv: our name for the file, the ImageMagick coder to read it with (- for
# none: not an image we accept), and the input image to compare it with (- for none).
here=$(dirname "$0")
if [ "$1" = --watermark ]; then
  bash "$here/make_images.sh" >/dev/null 2>setup.err || { echo "@@SETUP_FAILED"; exit 90; }
fi
while IFS=$'\\t' read -r file coder original; do
  info=UNREADABLE
  diff=
  if [ "$coder" != - ]; then
    info=$(identify -format '%m %w %h %Q' "$coder:out/$file[0]" 2>/dev/null) || info=UNREADABLE
    if [ "$original" != - ]; then
      diff=$(compare -metric AE -fuzz 8% "in/$original" "$coder:out/$file" null: 2>&1 | head -c 100)
    fi
  fi
  echo "@@IMG $file|${info//$'\\n'/ }|${diff//$'\\n'/ }"
done < "$here/list.tsv"
"""
_REPLY = re.compile(r"\A@@EXIT (\d{1,3})\n@@OUT\n([A-Za-z0-9+/=]*)\n@@END\n\Z")
_MAX_FILES = 200
_QUALITY, _SIZE, _PREFIX, _SUFFIX, _WATERMARK = 50, 100, "new_", "_v2", "stackeval"


def imgproc_cases(script_name: str, script: str) -> list[Case]:
    """The cases of the image task: one per option, each run and then inspected."""
    files = {script_name: script}
    harness = {
        "driver.sh": _DRIVER.replace("@SCRIPT@", shlex.quote(script_name)),
        "make_images.sh": datagen.IMAGE_SETUP,
    }
    images = datagen.IMAGES

    def base(name: str) -> str:
        return name.rsplit(".", 1)[0]

    def resized(w: int, h: int) -> tuple[int, int]:
        scale = min(1.0, _SIZE / max(w, h))
        return round(w * scale), round(h * scale)

    # option -> {output name: (format, width, height)}
    expected: dict[str, dict[str, tuple[str, int, int]]] = {
        "--quality": {
            n: ("JPEG", w, h) for n, (w, h) in images.items() if n.endswith((".jpg", ".jpeg"))
        },
        "--resize": {
            (n if not n.endswith(".svg") else base(n) + ".png"): (
                _format(n, svg_as="PNG"),
                *resized(w, h),
            )
            for n, (w, h) in images.items()
        },
        "--watermark": {
            n: (_format(n), w, h) for n, (w, h) in images.items() if not n.endswith(".svg")
        },
        "--prefix": {_PREFIX + n: (_format(n), w, h) for n, (w, h) in images.items()},
        "--suffix": {
            f"{base(n)}{_SUFFIX}.{n.rsplit('.', 1)[1]}": (_format(n), w, h)
            for n, (w, h) in images.items()
        },
        "--to-jpg": {
            base(n) + ".jpg": ("JPEG", w, h)
            for n, (w, h) in images.items()
            if n.endswith((".png", ".svg"))
        },
    }
    args = {
        "--quality": (str(_QUALITY),),
        "--resize": (str(_SIZE),),
        "--watermark": (_WATERMARK,),
        "--prefix": (_PREFIX,),
        "--suffix": (_SUFFIX,),
        "--to-jpg": (),
    }

    def case(option: str) -> Case:
        def judge(result: ExecResult, sandbox: Sandbox) -> Judgement:
            return _judge_images(option, result, sandbox, expected[option])

        return Case(
            option,
            files,
            ("bash", "/harness/driver.sh", option, *args[option]),
            harness=harness,
            keep_stdout=True,
            judge=judge,
        )

    return [
        help_case(
            script_name,
            {script_name: script},
            ("--quality", "--resize", "--watermark", "--prefix", "--suffix", "--to-jpg"),
        ),
        *(case(option) for option in expected),
    ]


def _format(name: str, svg_as: str = "SVG") -> str:
    ext = name.rsplit(".", 1)[1]
    return {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "svg": svg_as}[ext]


def _judge_images(
    option: str, result: ExecResult, sandbox: Sandbox, expected: dict[str, tuple[str, int, int]]
) -> Judgement:
    """Read back what the script wrote (untrusted data), then inspect it in a trusted run."""
    if result.killed_reason is not None:
        return Judgement([f"{option}: stopped by the sandbox: {result.killed_reason}"], True)
    if result.stdout.startswith("@@SETUP_FAILED"):
        return Judgement(
            [f"{option}: building the test images failed in the sandbox: {result.stdout[:300]}"],
            crashed=True,
        )
    reply = _REPLY.match(result.stdout) if not result.truncated else None
    if reply is None:
        return Judgement(
            [f"{option}: the driver's reply is malformed (cut off, or written into)"], True
        )
    status = int(reply.group(1))
    try:
        written = _untar(base64.b64decode(reply.group(2), validate=True))
    except (ValueError, tarfile.TarError, EOFError) as exc:
        return Judgement([f"{option}: out/ could not be read back: {exc}"], crashed=True)
    wanted = [name for name in expected if name in written]
    described = _inspect(option, {name: written[name] for name in wanted}, sandbox)
    failures = _verify_images(option, status, result.stderr, sorted(written), described, expected)
    return Judgement(failures, crashed=status != 0)


def _untar(data: bytes) -> dict[str, bytes]:
    """The regular files at the top of a tar archive, by name."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for i, member in enumerate(archive):
            if i >= _MAX_FILES:
                break
            name = member.name.removeprefix("./")
            if member.isfile() and name and "/" not in name:
                extracted = archive.extractfile(member)
                if extracted is not None:
                    files[name] = extracted.read()
    return files


def _coder(data: bytes) -> str:
    """The ImageMagick coder for ``data`` by its magic bytes; "-" for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if re.search(rb"<svg[\s>]", data[:4096]):
        return "svg"
    return "-"


def _inspect(option: str, images: dict[str, bytes], sandbox: Sandbox) -> dict[str, list[str]]:
    """name -> [format, width, height, quality, changed pixels], from a run without candidate
    code; a file it could not describe is missing or UNREADABLE."""
    if not images:
        return {}
    names = list(images)
    listing = "".join(
        f"{i}\t{_coder(images[name])}\t"
        f"{name if option == '--watermark' and name in datagen.IMAGES else '-'}\n"
        for i, name in enumerate(names)
    )
    result = sandbox.run(
        {f"out/{i}": images[name] for i, name in enumerate(names)},
        ("bash", "/harness/inspect.sh", option),
        timeout_s=TRUSTED_TIMEOUT_S,
        harness={
            "inspect.sh": _INSPECT,
            "make_images.sh": datagen.IMAGE_SETUP,
            "list.tsv": listing,
        },
    )
    if result.stdout.startswith("@@SETUP_FAILED"):  # no candidate code ran: our problem
        raise GraderError(f"building the test images failed in the sandbox: {result.stderr[-300:]}")
    described: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        if line.startswith("@@IMG "):
            index, info, diff = (line[6:].split("|") + ["", ""])[:3]
            if index.isdigit() and int(index) < len(names):
                described[names[int(index)]] = info.split() + [diff.strip()]
    return described


def _shown(name: str) -> str:
    return name if name.isprintable() else repr(name)


def _verify_images(
    option: str,
    status: int,
    stderr: str,
    written: list[str],
    found: dict[str, list[str]],
    expected: dict[str, tuple[str, int, int]],
) -> list[str]:
    failures = (
        []
        if status == 0
        else [
            f"{option}: exit status {status}: "
            f"{(stderr.strip().splitlines() or [''])[-1][:200]}"
        ]
    )
    for name, (fmt, w, h) in expected.items():
        if name not in written:
            failures.append(
                f"{option}: out/{name} was not written "
                f"(found: {', '.join(map(_shown, written)) or 'nothing'})"
            )
            continue
        got = found.get(name, ["UNREADABLE"])
        if got[0] == "UNREADABLE" or len(got) < 5:
            failures.append(f"{option}: out/{name} is not a readable image")
            continue
        if got[0] != fmt:
            failures.append(f"{option}: out/{name} is {got[0]}, expected {fmt}")
        if not (got[1].isdigit() and got[2].isdigit()):
            failures.append(f"{option}: out/{name} has no size")
        elif abs(int(got[1]) - w) > 1 or abs(int(got[2]) - h) > 1:
            failures.append(f"{option}: out/{name} is {got[1]}x{got[2]}, expected {w}x{h}")
        if option == "--quality" and got[3] != str(_QUALITY):
            failures.append(f"{option}: out/{name} has JPEG quality {got[3]}, expected {_QUALITY}")
        if option == "--watermark":
            number = re.match(r"[0-9.]+(?:[eE][+-]?\d+)?", got[4])
            changed = float(number.group()) if number else 0.0  # compare failed: sizes differ
            if changed < max(20, w * h // 2000):  # re-encoding alone changes almost no pixel by 8%
                failures.append(
                    f"{option}: out/{name} looks unchanged ({changed:.0f} pixels differ)"
                )
    return failures
