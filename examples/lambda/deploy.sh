#!/usr/bin/env bash
# Deploys chatfly to AWS: builds the functions, deploys template.yaml, then
# uploads the web app configured with the API's wss:// URL to the stack's
# bucket and refreshes CloudFront. Safe to rerun: an unchanged stack is not
# an error, and the web app is uploaded again.
#
#   ./deploy.sh --guided        # the first time: asks stack name, region, ...
#   ./deploy.sh                 # then: the answers saved in samconfig.toml
#   STACK=mychat ./deploy.sh --region eu-west-1
#
# The stack and region are, in this order: STACK and --region given here,
# then samconfig.toml (where --guided saves them), then the AWS CLI's
# defaults (AWS_REGION, the profile).
#
# Needs: Go, the AWS SAM CLI and the AWS CLI, with credentials for the account.
set -euo pipefail
cd "$(dirname "$0")"

# samconfig KEY prints KEY's value from the default environment's deploy or
# global parameters of samconfig.toml (empty when unset).
samconfig() {
  [ -f samconfig.toml ] || return 0
  awk -v key="$1" '
    /^\[/ { in_section = ($0 == "[default.deploy.parameters]" || $0 == "[default.global.parameters]") }
    in_section && $1 == key && $2 == "=" { v = $3; gsub(/"/, "", v); print v; exit }
  ' samconfig.toml
}

region=""
prev=""
for arg in "$@"; do
  case "$arg" in
    --region=*) region=${arg#--region=} ;;
  esac
  if [ "$prev" = "--region" ]; then region=$arg; fi
  prev=$arg
done

deploy=(sam deploy --no-fail-on-empty-changeset)
if [ -n "${STACK:-}" ]; then deploy+=(--stack-name "$STACK"); fi

sam build
"${deploy[@]}" "$@"

# Read after the deploy: --guided may just have written them.
STACK=${STACK:-$(samconfig stack_name)}
STACK=${STACK:-chatfly}
region=${region:-$(samconfig region)}
aws=(aws)
if [ -n "$region" ]; then aws+=(--region "$region"); fi

output() {
  "${aws[@]}" cloudformation describe-stacks --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
WS_URL=$(output WebSocketURL)
BUCKET=$(output WebBucketName)
DIST=$(output WebDistributionId)
WEB_URL=$(output WebURL)
for v in "$WS_URL" "$BUCKET" "$DIST" "$WEB_URL"; do
  if [ -z "$v" ] || [ "$v" = None ]; then
    echo "deploy.sh: stack $STACK${region:+ in $region} lacks an output" >&2
    exit 1
  fi
done

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go run . -write-web "$dir" -ws-url "$WS_URL"

# Content types by extension; browsers revalidate index.html and chatfly.js
# (the CloudFront function sets Cache-Control for browsers by ?v=).
"${aws[@]}" s3 sync "$dir" "s3://$BUCKET/" --delete --exclude "*" --include "*.js" \
  --content-type "text/javascript; charset=utf-8"
"${aws[@]}" s3 sync "$dir" "s3://$BUCKET/" --delete --exclude "*" --include "*.css" \
  --content-type "text/css; charset=utf-8"
"${aws[@]}" s3 sync "$dir" "s3://$BUCKET/" --exclude "*" --include "*.html" \
  --content-type "text/html; charset=utf-8" --cache-control "no-cache"
"${aws[@]}" s3 sync "$dir" "s3://$BUCKET/" --exclude "*.js" --exclude "*.css" --exclude "*.html"
"${aws[@]}" cloudfront create-invalidation --distribution-id "$DIST" --paths "/*" >/dev/null

echo "chat endpoint: $WS_URL"
echo "web app:       $WEB_URL"
