package js_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPack packs the npm package, checks that the tarball holds the client,
// its types, README and LICENSE (and nothing of the tests), installs it into
// a scratch project offline (it has no dependencies) and type-checks
// examples/usage.ts there against the installed package, with the
// repository's typescript (npm ci at the root).
func TestPack(t *testing.T) {
	node(t)
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("node without npm")
	}
	tsc, err := filepath.Abs("../../node_modules/typescript/bin/tsc")
	if err == nil {
		_, err = os.Stat(tsc)
	}
	if err != nil {
		if os.Getenv("CHATFLY_REQUIRE_NODE") != "" {
			t.Fatal("typescript is not installed: run npm ci at the repository's root")
		}
		t.Skip("typescript not installed (npm ci at the repository's root)")
	}
	run := func(dir, bin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_cache="+filepath.Join(t.TempDir(), "cache"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	dist := t.TempDir()
	name := strings.TrimSpace(run(".", npm, "pack", "--silent", "--pack-destination", dist))
	tgz := filepath.Join(dist, name)
	list := strings.Fields(run(".", "tar", "-tzf", tgz))
	slices.Sort(list)
	want := []string{"package/LICENSE", "package/README.md", "package/chatfly-gaps.js", "package/chatfly.d.ts", "package/chatfly.js", "package/package.json"}
	if !slices.Equal(list, want) {
		t.Fatalf("npm pack holds\n %v\nwant\n %v", list, want)
	}

	app := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(app, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("package.json", `{"name":"scratch","private":true,"type":"module"}`)
	run(app, npm, "install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", tgz)
	usage, err := os.ReadFile("examples/usage.ts")
	if err != nil {
		t.Fatal(err)
	}
	write("usage.ts", string(usage))
	write("tsconfig.json", `{"compilerOptions":{"target":"es2022","module":"nodenext","moduleResolution":"nodenext","lib":["es2022","dom"],"strict":true,"noEmit":true,"types":[]},"files":["usage.ts"]}`)
	run(app, "node", tsc, "-p", ".")
	// The installed module loads, with what the types promise.
	write("load.mjs", `import * as c from "@chatfly/client"; if (c.PROTOCOL !== 1 || typeof c.connect !== "function" || typeof c.Client.prototype.kick !== "function") process.exit(1);`)
	run(app, "node", "load.mjs")

	// A mistake in a use of the package is caught.
	write("usage.ts", string(usage)+"\nexport const wrong = (c: Client) => c.send(\"lobby\");\n")
	cmd := exec.Command("node", tsc, "-p", ".")
	cmd.Dir = app
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "usage.ts") {
		t.Fatalf("tsc accepted a wrong call: %v\n%s", err, out)
	}
}
