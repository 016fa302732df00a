#!/usr/bin/env bash
# Deploys chatfly to AWS: builds the functions, deploys template.yaml, then
# uploads the web app configured with the API's wss:// URL to the stack's
# bucket and refreshes CloudFront.
#
#   ./deploy.sh                 # stack "chatfly" (samconfig.toml), or
#   STACK=mychat ./deploy.sh --guided
#
# Needs: Go, the AWS SAM CLI and the AWS CLI, with credentials for the account.
set -euo pipefail
cd "$(dirname "$0")"
STACK=${STACK:-chatfly}

sam build
sam deploy --stack-name "$STACK" "$@"

output() {
  aws cloudformation describe-stacks --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
WS_URL=$(output WebSocketURL)
BUCKET=$(output WebBucketName)
DIST=$(output WebDistributionId)
WEB_URL=$(output WebURL)

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go run . -write-web "$dir" -ws-url "$WS_URL"

# Content types by extension; browsers revalidate index.html and chatfly.js
# (the CloudFront function sets Cache-Control for browsers by ?v=).
aws s3 sync "$dir" "s3://$BUCKET/" --delete --exclude "*" --include "*.js" \
  --content-type "text/javascript; charset=utf-8"
aws s3 sync "$dir" "s3://$BUCKET/" --delete --exclude "*" --include "*.css" \
  --content-type "text/css; charset=utf-8"
aws s3 sync "$dir" "s3://$BUCKET/" --exclude "*" --include "*.html" \
  --content-type "text/html; charset=utf-8" --cache-control "no-cache"
aws s3 sync "$dir" "s3://$BUCKET/" --exclude "*.js" --exclude "*.css" --exclude "*.html"
aws cloudfront create-invalidation --distribution-id "$DIST" --paths "/*" >/dev/null

echo "chat endpoint: $WS_URL"
echo "web app:       $WEB_URL"
