"""Cold-start variant 4a: the benchmarks' hello on awslambdaric, with nothing else."""

import json

BODY = json.dumps({"message": "hello from lamina-bench"}, separators=(",", ":"))


def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": BODY}
