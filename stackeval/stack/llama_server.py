"""Child-process entry point: serve one GGUF with llama.cpp's server (xllamacpp) until SIGTERM.

Run as ``python -m stackeval.stack.llama_server --model PATH --port N --alias NAME``. One process
per model keeps each model's concurrency, memory and CPU attributable to one pid.
"""

from __future__ import annotations

import argparse
import signal
import threading


def build_params(args: argparse.Namespace):  # -> xllamacpp.CommonParams
    """Translate our flags into llama.cpp server parameters."""
    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = args.model
    p.model_alias = {args.alias}  # a set: a plain str would be split into one-letter aliases
    p.hostnames = [args.host]
    p.port = args.port
    p.n_parallel = args.parallel
    p.n_ctx = args.ctx_size * args.parallel  # llama.cpp splits n_ctx evenly across slots
    p.cpuparams.n_threads = args.threads
    p.cpuparams_batch.n_threads = args.threads
    # No busy-wait polling: on a shared 2-core box spinning threads starve the other servers.
    p.cpuparams.poll = 0
    p.cpuparams_batch.poll = 0
    p.endpoint_metrics = True
    p.endpoint_slots = True
    return p


def main(argv: list[str] | None = None) -> None:
    """Start the server and block until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="stackeval.stack.llama_server")
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ctx-size", type=int, default=4096, help="tokens per slot")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import xllamacpp

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = xllamacpp.Server(build_params(args))
    print(f"stackeval llama_server listening on {server.listening_address}", flush=True)
    stop.wait()


if __name__ == "__main__":
    main()
