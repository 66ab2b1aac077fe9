"""Cold-start variant 4b: the benchmarks' hello with Powertools for AWS Lambda (Python): Logger,
Tracer, Metrics, Parameters (one Secrets Manager secret fetched at init) and the REST API Event
Handler with CORS. It answers the same body as every other variant."""

import json
import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters

BODY = json.dumps({"message": "hello from lamina-bench"}, separators=(",", ":"))

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver(cors=CORSConfig(allow_origin=os.environ["BENCH_ORIGIN"]))
# Prefetched at init, as variant 2 does; later calls are cache hits.
API_KEY = parameters.get_secret(os.environ["BENCH_SECRET_ID"], max_age=3600)


@app.get("/hello")
@tracer.capture_method
def hello():
    tracer.put_annotation("route", "/hello")
    if not parameters.get_secret(os.environ["BENCH_SECRET_ID"], max_age=3600):
        raise RuntimeError("the secret did not reach the handler")
    metrics.add_metric(name="Hello", unit=MetricUnit.Count, value=1)
    logger.info("hello")
    return Response(status_code=200, content_type="application/json", body=BODY)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return app.resolve(event, context)
