#!/usr/bin/env bash
# Publishes Udagram's web client to a deployed stack: the built files (example-app/web/dist) to the
# stack's web client bucket, this stage's config.json from the stack's WebClientConfig output, and
# an invalidation of the two files that are not content-hashed.
#
#   example-app/scripts/publish-web-client.sh STACK_NAME
#
# Needs the AWS CLI with credentials for the stack's account and region, and a build of the client
# (the repository commits one; `npm ci && npm run build` in example-app/web makes it again).
set -euo pipefail

stack=${1:?usage: publish-web-client.sh STACK_NAME}
dist="$(cd "$(dirname "$0")/.." && pwd)/web/dist"
[ -f "$dist/index.html" ] || { echo "no build in $dist: run npm ci && npm run build in example-app/web" >&2; exit 1; }

output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
bucket=$(output WebClientBucketName)
distribution=$(output WebClientDistributionId)
config=$(output WebClientConfig)

# Hashed files first, so that no index.html ever names a file that is not there yet.
aws s3 sync "$dist/assets" "s3://$bucket/assets" --cache-control "public, max-age=31536000, immutable"
aws s3 sync "$dist" "s3://$bucket" --exclude "assets/*" --cache-control "no-cache" --delete --exclude "config.json"
printf '%s' "$config" | aws s3 cp - "s3://$bucket/config.json" \
  --content-type application/json --cache-control "no-cache"
aws cloudfront create-invalidation --distribution-id "$distribution" \
  --paths /index.html /config.json >/dev/null
echo "web client published: $(output WebClientUrl)"
