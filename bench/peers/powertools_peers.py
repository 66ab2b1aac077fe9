"""Per-request cost of Powertools for AWS Lambda (Python), the peers of lamina-bench's Rust benches.

A worker driven by benches/peers.rs over stdin/stdout, so the interpreter starts (and imports) once:
- it prints one line, `ready <JSON of versions>`;
- then, for each line `NAME ITERATIONS` it reads, runs that benchmark ITERATIONS times and prints
  the seconds the loop took, measured with time.perf_counter (Python's own timer), loop only.

Benchmarks (each with its Rust counterpart):
- `event-handler`: APIGatewayRestResolver with CORS resolving the REST proxy event of the cold-start
  benches (Rust: the whole lamina-middleware stack around a trivial handler).
- `tracer-subsegment`: one Tracer subsegment with one annotation, inside a sampled Lambda trace,
  sent to a UDP daemon on loopback (Rust: one lamina-tracing span sent as a subsegment).
- `parameters-cache-hit`: parameters.get_secret of a secret already in the cache (Rust: a
  SecretCache hit).

Environment: BENCH_EVENT (the event JSON), BENCH_ORIGIN, BENCH_SECRET_ID, and moto's AWS_* variables.
"""

import importlib.metadata
import json
import logging
import os
import socket
import sys
import threading
import time

# A daemon on loopback that drains (and counts) every datagram, as the Rust benches use.
daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
daemon.bind(("127.0.0.1", 0))
received = [0]


def drain():
    while True:
        daemon.recv(65536)
        received[0] += 1


threading.Thread(target=drain, daemon=True).start()

# What Lambda sets: the Tracer (and the X-Ray SDK under it) only trace inside Lambda.
os.environ["AWS_XRAY_DAEMON_ADDRESS"] = "127.0.0.1:%d" % daemon.getsockname()[1]
os.environ.setdefault("AWS_LAMBDA_FUNCTION_NAME", "bench")
os.environ.setdefault("LAMBDA_TASK_ROOT", os.getcwd())
os.environ["_X_AMZN_TRACE_ID"] = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bench")
logging.disable(logging.CRITICAL)

from aws_lambda_powertools import Tracer  # noqa: E402
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response  # noqa: E402
from aws_lambda_powertools.utilities import parameters  # noqa: E402

BODY = json.dumps({"message": "hello from lamina-bench"}, separators=(",", ":"))
ORIGIN = os.environ["BENCH_ORIGIN"]
SECRET_ID = os.environ["BENCH_SECRET_ID"]
EVENT = json.loads(os.environ["BENCH_EVENT"])

app = APIGatewayRestResolver(cors=CORSConfig(allow_origin=ORIGIN))


@app.get("/hello")
def hello():
    return Response(status_code=200, content_type="application/json", body=BODY)


class Context:
    function_name = "bench"
    aws_request_id = "bench-request"


tracer = Tracer()


def event_handler(iterations):
    context = Context()
    start = time.perf_counter()
    for _ in range(iterations):
        app.resolve(EVENT, context)
    return time.perf_counter() - start


def tracer_subsegment(iterations):
    provider = tracer.provider
    start = time.perf_counter()
    for _ in range(iterations):
        with provider.in_subsegment("work") as subsegment:
            subsegment.put_annotation("k", 1)
    return time.perf_counter() - start


def parameters_cache_hit(iterations):
    start = time.perf_counter()
    for _ in range(iterations):
        parameters.get_secret(SECRET_ID, max_age=3600)
    return time.perf_counter() - start


BENCHES = {
    "event-handler": event_handler,
    "tracer-subsegment": tracer_subsegment,
    "parameters-cache-hit": parameters_cache_hit,
}


def check():
    """Each benchmark does its work once, and does it right, before any is timed."""
    answer = app.resolve(EVENT, Context())
    assert answer["statusCode"] == 200 and answer["body"] == BODY, answer
    headers = answer.get("multiValueHeaders") or {}
    assert ORIGIN in headers.get("Access-Control-Allow-Origin", []), answer
    assert parameters.get_secret(SECRET_ID, max_age=3600), "the secret is empty"
    before = received[0]
    tracer_subsegment(100)
    deadline = time.monotonic() + 2
    while received[0] == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert received[0] > before, "no subsegment reached the daemon"


def main():
    check()
    versions = {
        "python": sys.version.split()[0],
        "aws-lambda-powertools": importlib.metadata.version("aws-lambda-powertools"),
        "aws-xray-sdk": importlib.metadata.version("aws-xray-sdk"),
    }
    print("ready " + json.dumps(versions), flush=True)
    for line in sys.stdin:
        name, iterations = line.split()
        print(BENCHES[name](int(iterations)), flush=True)


if __name__ == "__main__":
    main()
