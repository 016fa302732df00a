package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Stub commands for TestDeployReruns: each appends what it was asked to
// $STUB_LOG. sam deploy fails on an unchanged stack as the real one does
// without --no-fail-on-empty-changeset, and --guided saves a region in
// samconfig.toml; aws answers describe-stacks only in that region and logs
// the files each s3 sync finds; go runs the real go in this directory.
const (
	stubSam = `#!/usr/bin/env bash
echo "sam $*" >>"$STUB_LOG"
[ "$1" = deploy ] || exit 0
if [ -e "$STUB_STATE/deployed" ] && [[ " $* " != *" --no-fail-on-empty-changeset "* ]]; then
  echo "Error: No changes to deploy. Stack chatfly is up to date" >&2
  exit 1
fi
touch "$STUB_STATE/deployed"
if [[ " $* " == *" --guided "* ]]; then echo 'region = "eu-west-3"' >>samconfig.toml; fi
`
	stubAWS = `#!/usr/bin/env bash
echo "aws $*" >>"$STUB_LOG"
[ "$1 $2" = "--region eu-west-3" ] || { echo "An error occurred (ValidationError): Stack with id chatfly does not exist" >&2; exit 254; }
shift 2
case "$1 $2 $*" in
  "cloudformation describe-stacks"*WebSocketURL*) echo wss://abc.execute-api.eu-west-3.amazonaws.com/prod ;;
  "cloudformation describe-stacks"*WebBucketName*) echo chatfly-web-bucket ;;
  "cloudformation describe-stacks"*WebDistributionId*) echo E123 ;;
  "cloudformation describe-stacks"*WebURL*) echo https://d123.cloudfront.net/ ;;
  "s3 sync"*)
    (cd "$3" && find . -type f | sort | sed 's/^/  file /') >>"$STUB_LOG"
    grep -rlF wss://abc.execute-api.eu-west-3.amazonaws.com/prod "$3" | sed 's/^/  configured /' >>"$STUB_LOG" || true ;;
esac
`
	stubGo = `#!/usr/bin/env bash
exec "$REAL_GO" -C "$LAMBDA_DIR" "$@"
`
)

// TestDeployReruns runs deploy.sh twice in a row, first with --guided,
// against stub sam and aws commands: both runs succeed (the second deploys
// an unchanged stack), read the stack's outputs in the region --guided
// saved, and upload the web app configured with the API's URL.
func TestDeployReruns(t *testing.T) {
	realGo, err := exec.LookPath("go")
	require.NoError(t, err)
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	here, err := os.Getwd()
	require.NoError(t, err)

	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	state := filepath.Join(dir, "state")
	require.NoError(t, os.Mkdir(bin, 0o755))
	require.NoError(t, os.Mkdir(state, 0o755))
	for name, body := range map[string]string{"sam": stubSam, "aws": stubAWS, "go": stubGo} {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755))
	}
	for _, f := range []string{"deploy.sh", "samconfig.toml"} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o755))
	}
	log := filepath.Join(dir, "log")

	run := func(args ...string) string {
		t.Helper()
		require.NoError(t, os.WriteFile(log, nil, 0o644))
		cmd := exec.Command(bash, append([]string{filepath.Join(dir, "deploy.sh")}, args...)...)
		cmd.Env = append(os.Environ(),
			"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
			"STUB_LOG="+log, "STUB_STATE="+state, "REAL_GO="+realGo, "LAMBDA_DIR="+here,
			"STACK=", "AWS_REGION=", "AWS_DEFAULT_REGION=")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "deploy.sh %v:\n%s", args, out)
		require.Contains(t, string(out), "web app:       https://d123.cloudfront.net/")
		b, err := os.ReadFile(log)
		require.NoError(t, err)
		return string(b)
	}
	for i, args := range [][]string{{"--guided"}, nil} {
		got := run(args...)
		require.Contains(t, got, "sam build\n", "run %d", i+1)
		require.Contains(t, got, "sam deploy --no-fail-on-empty-changeset", "run %d", i+1)
		require.Equal(t, 4, strings.Count(got, "aws --region eu-west-3 cloudformation describe-stacks --stack-name chatfly "), "run %d:\n%s", i+1, got)
		require.Contains(t, got, "aws --region eu-west-3 s3 sync", "run %d", i+1)
		for _, f := range []string{"index.html", "chatfly.js"} {
			require.Contains(t, got, "  file ./"+f+"\n", "run %d uploads %s:\n%s", i+1, f, got)
		}
		require.Contains(t, got, "  configured ", "run %d: the uploaded app has the API's URL", i+1)
		require.Contains(t, got, "aws --region eu-west-3 cloudfront create-invalidation --distribution-id E123", "run %d", i+1)
	}
}

// TestDeployScriptLints checks deploy.sh with bash -n and, where installed,
// shellcheck (.ci/run installs it; CHATFLY_REQUIRE_SHELLCHECK=1 makes a
// missing shellcheck a failure).
func TestDeployScriptLints(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	out, err := exec.Command(bash, "-n", "deploy.sh").CombinedOutput()
	require.NoError(t, err, "bash -n:\n%s", out)
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CHATFLY_REQUIRE_SHELLCHECK") == "1" {
			t.Fatal("shellcheck not installed")
		}
		t.Skip("shellcheck not installed")
	}
	out, err = exec.Command(sc, "deploy.sh").CombinedOutput()
	require.NoError(t, err, "shellcheck:\n%s", out)
}
