"""What the streaming client costs per chunk, and whether it can drive 64 streams without
distorting inter-token latency.

Run: ``.venv/bin/python benchmarks/client_streams.py [--streams 1 8 64] [--interval-ms 20]
[--chunks 100]``.

1. Parsing cost: CPU µs per chunk of ``iter_sse`` + ``StreamAccumulator.add`` on a recorded
   llama.cpp chunk, and of the whole client path (httpx + SSE + accumulator) on an in-memory
   stream (``httpx.MockTransport``).
2. Streams: a fake OpenAI-compatible SSE server (uvicorn, raw ASGI, its own process) sends each
   stream's chunks on a fixed schedule, ``interval`` apart, and writes into every chunk the
   perf_counter time it was due and sent (CLOCK_MONOTONIC, shared by both processes). The
   client drives N streams at once through the perf load generator, and the script compares
   the ITL it measured with the emitted interval, and splits any lateness into server slip
   (sent - due) and client lag (received - sent).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from stackeval.client import StreamAccumulator, StreamingClient, iter_sse
from stackeval.perf.load import LoadGenerator
from stackeval.perf.prompts import PromptFactory
from stackeval.sampling import Sampling
from stackeval.stack.base import Endpoint
from stackeval.stats import percentile

log = logging.getLogger("client_streams")

ROOT = Path(__file__).resolve().parent.parent
TRANSCRIPT = ROOT / "tests" / "transcripts" / "llamacpp_chat_stream.sse"


# -- the fake server -------------------------------------------------------------------------


def make_app(interval_s: float):  # -> ASGI app
    """An ASGI app streaming ``max_tokens`` chunks, one every ``interval_s``, then usage."""

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        n = int(json.loads(body or b"{}").get("max_tokens", 100))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        t0 = time.perf_counter()
        for k in range(n):
            due = t0 + k * interval_s
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            chunk = {"choices": [{"index": 0, "delta": {
                "content": f"{due:.6f}/{time.perf_counter():.6f} "}}]}
            await send({"type": "http.response.body", "more_body": True,
                        "body": b"data: " + json.dumps(chunk).encode() + b"\n\n"})
        usage = {"choices": [], "usage": {"completion_tokens": n, "prompt_tokens": 10}}
        await send({"type": "http.response.body", "more_body": True,
                    "body": b"data: " + json.dumps(usage).encode() + b"\n\ndata: [DONE]\n\n"})
        await send({"type": "http.response.body", "body": b""})

    return app


def serve(port: int, interval_s: float) -> None:
    """Run the fake server until killed."""
    import uvicorn

    uvicorn.run(make_app(interval_s), host="127.0.0.1", port=port, log_level="warning",
                lifespan="on")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- measurements -----------------------------------------------------------------------------


def parse_cost(chunks: int = 20000) -> dict[str, float]:
    """CPU µs per chunk: SSE + accumulator alone, and the whole client path over httpx."""
    lines = TRANSCRIPT.read_text().splitlines()
    one = next(ln for ln in lines if '"content"' in ln)
    stream = [one, ""] * chunks
    acc = StreamAccumulator("m", "e", 0.0)
    c0 = time.process_time()
    for event in iter_sse(stream):
        if event:
            acc.add(time.perf_counter(), event)
    parse_us = (time.process_time() - c0) / chunks * 1e6

    tail = [ln for ln in lines if '"usage"' in ln] + ["", "data: [DONE]", ""]
    body = ("\n".join([one, ""] * chunks + tail)).encode()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    ep = Endpoint("http://127.0.0.1:9/v1", "m", None, "direct")
    with StreamingClient(transport=transport, retries=0) as client:
        c0 = time.process_time()
        client.chat(ep, [{"role": "user", "content": "x"}], max_tokens=chunks)
        client_us = (time.process_time() - c0) / chunks * 1e6
    return {"parse_us_per_chunk": parse_us, "client_us_per_chunk": client_us}


def drive(port: int, streams: int, chunks: int, interval_s: float) -> dict[str, float]:
    """``streams`` simultaneous streams; measured ITL, server slip and client lag."""
    ep = Endpoint(f"http://127.0.0.1:{port}/v1", "fake", None, "direct")
    with StreamingClient(retries=0, timeout_s=60) as client:
        gen = LoadGenerator(client, ep, Sampling(max_tokens=chunks, seed=1234))
        prompts = PromptFactory("short", tag=f"s{streams}").take(streams)
        gen.round(prompts[:1])  # connection and thread warm-up
        c0, w0 = time.process_time(), time.perf_counter()
        results = gen.round(prompts)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    itl, lag, slip, ttft = [], [], [], []
    for comp in results:
        if isinstance(comp, Exception):
            raise comp
        stamps = [tuple(map(float, s.split("/"))) for s in comp.text.split()]
        if len(stamps) != len(comp.chunk_times):
            raise RuntimeError(f"{len(stamps)} stamps for {len(comp.chunk_times)} chunks")
        itl.extend(comp.itl_s)
        ttft.append(comp.ttft_s)
        for (due, sent), got in zip(stamps, comp.chunk_times, strict=True):
            slip.append(sent - due)
            lag.append(got - sent)
    ms = 1000.0
    return {
        "streams": streams, "chunks": len(itl) + len(results),
        "itl_p50_ms": percentile(itl, 50) * ms, "itl_p99_ms": percentile(itl, 99) * ms,
        "itl_mean_ms": sum(itl) / len(itl) * ms,
        "ttft_p50_ms": percentile(ttft, 50) * ms,
        "slip_p50_ms": percentile(slip, 50) * ms, "slip_p99_ms": percentile(slip, 99) * ms,
        "lag_p50_ms": percentile(lag, 50) * ms, "lag_p99_ms": percentile(lag, 99) * ms,
        "client_core_pct": cpu / wall * 100,
        "client_us_per_chunk": cpu / (len(itl) + len(results)) * 1e6,
    }


def main() -> None:
    """Measure parsing cost, start the fake server, drive each stream count, print tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--interval-ms", type=float, default=20.0, help="default 20 (50 tok/s)")
    parser.add_argument("--chunks", type=int, default=100, help="per stream (default 100)")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    interval = args.interval_ms / 1000.0
    if args.serve:
        serve(args.serve, interval)
        return
    logging.basicConfig(level=logging.WARNING)

    cost = parse_cost()
    print(f"per-chunk CPU: SSE parse + accumulate {cost['parse_us_per_chunk']:.1f} µs; "
          f"whole client path (httpx + SSE + accumulate) {cost['client_us_per_chunk']:.1f} µs")

    port = _free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port),
                               "--interval-ms", str(args.interval_ms)],
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the fake SSE server did not start") from None
                time.sleep(0.1)
        print(f"fake server: {args.chunks} chunks per stream every {args.interval_ms:g} ms; "
              f"host: {os.cpu_count()} CPUs")
        header = (f"{'streams':>7} {'chunks':>6} {'ITL p50':>8} {'ITL p99':>8} {'ITL mean':>8} "
                  f"{'slip p99':>8} {'lag p50':>8} {'lag p99':>8} {'client %core':>12} "
                  f"{'µs/chunk':>8}")
        print(header + "   (ms unless noted; slip = server late, lag = client late)")
        for n in args.streams:
            r = drive(port, n, args.chunks, interval)
            print(f"{r['streams']:>7} {r['chunks']:>6} {r['itl_p50_ms']:>8.2f} "
                  f"{r['itl_p99_ms']:>8.2f} {r['itl_mean_ms']:>8.2f} {r['slip_p99_ms']:>8.2f} "
                  f"{r['lag_p50_ms']:>8.2f} {r['lag_p99_ms']:>8.2f} "
                  f"{r['client_core_pct']:>12.1f} {r['client_us_per_chunk']:>8.1f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
