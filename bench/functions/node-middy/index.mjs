// Cold-start variant 5: the benchmarks' hello with middy (CORS, HTTP error handler, a Secrets
// Manager secret prefetched at init) and the X-Ray SDK (the SDK client captured, one subsegment per
// request). It answers the same body as every other variant.
import middy from "@middy/core";
import cors from "@middy/http-cors";
import httpErrorHandler from "@middy/http-error-handler";
import secretsManager from "@middy/secrets-manager";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import AWSXRay from "aws-xray-sdk-core";

const BODY = JSON.stringify({ message: "hello from lamina-bench" });

const hello = async (event, context) => {
  const subsegment = AWSXRay.getSegment()?.addNewSubsegment("hello");
  subsegment?.addAnnotation("route", "/hello");
  try {
    if (!context.apiKey) {
      throw new Error("the secret did not reach the handler");
    }
    console.log(JSON.stringify({ level: "INFO", message: "hello", path: event.path }));
    return { statusCode: 200, headers: { "content-type": "application/json" }, body: BODY };
  } finally {
    subsegment?.close();
  }
};

export const handler = middy(hello)
  .use(
    secretsManager({
      fetchData: { apiKey: process.env.BENCH_SECRET_ID },
      setToContext: true,
      awsClientConstructor: SecretsManagerClient,
      awsClientCapture: AWSXRay.captureAWSv3Client,
    }),
  )
  .use(cors({ origins: [process.env.BENCH_ORIGIN] }))
  .use(httpErrorHandler());
