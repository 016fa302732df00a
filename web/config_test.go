package web

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// policyOf returns the page's Content-Security-Policy, from its <meta>.
func policyOf(t *testing.T, page string) string {
	t.Helper()
	m := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatch(page)
	require.NotNil(t, m, "no CSP in\n%s", page)
	return html.UnescapeString(m[1])
}

// TestLookOptions: the title, brand, theme, hidden screens, home, identified
// users and modules reach the page, and the CSP allows exactly what they
// add: the theme's <style> by its hash, the logo's and the modules'
// origins.
func TestLookOptions(t *testing.T) {
	opts := &Options{
		Title:           "Acme <chat>",
		Brand:           Brand{Name: "Acme & co", Logo: "https://cdn.example.com/logo.svg"},
		Theme:           map[string]string{"accent": "#0a7d55", "accent-fg": "white", "bg": "rgb(250 250 245 / 90%)"},
		DarkTheme:       map[string]string{"accent": "oklch(70% 0.15 160)"},
		Hide:            Screens{Rooms: true, Roulette: true, CustomRooms: true, Games: true},
		Home:            "room/lobby",
		IdentifiedUsers: true,
		Modules:         []string{"/ext/nim.js", "https://games.example.com/chess.js", "https://games.example.com/go.js", "./ext/more.js"},
	}
	page := string(body(t, get(t, Handler(opts), "GET", "/")))
	assert.Contains(t, page, "<title>Acme &lt;chat&gt;</title>")
	assert.Contains(t, page, `<a class="brand" href="#/"><img src="https://cdn.example.com/logo.svg" alt="" height="28">Acme &amp; co</a>`)
	assert.Contains(t, page, `<html lang="en" data-hide="rooms create roulette games">`)
	assert.Contains(t, page, `<meta name="chatfly-app" content="{&#34;home&#34;:&#34;room/lobby&#34;,&#34;identified&#34;:true,&#34;modules&#34;:[&#34;/ext/nim.js&#34;,&#34;https://games.example.com/chess.js&#34;,&#34;https://games.example.com/go.js&#34;,&#34;./ext/more.js&#34;]}">`)

	style := regexp.MustCompile(`<style>(.*?)</style>`).FindStringSubmatch(page)
	require.NotNil(t, style, "no theme style in\n%s", page)
	assert.Equal(t, "@media (prefers-color-scheme: light) {:root { --accent: #0a7d55; --accent-fg: white; --bg: rgb(250 250 245 / 90%); }}"+
		"@media (prefers-color-scheme: dark) {:root { --accent: oklch(70% 0.15 160); }}", style[1])
	assert.Less(t, strings.Index(page, "app.css?v="), strings.Index(page, "<style>"), "the theme comes after app.css, to win")
	sum := sha256.Sum256([]byte(style[1]))
	policy := policyOf(t, page)
	assert.Contains(t, policy, "style-src 'self' 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"' https://games.example.com;")
	assert.Contains(t, policy, "img-src 'self' data: https://cdn.example.com;")
	assert.Regexp(t, `script-src 'self' 'sha256-[^']+' https://games\.example\.com;`, policy)

	// The defaults add nothing: no config, no style, no hidden screens.
	page = string(body(t, get(t, Handler(nil), "GET", "/")))
	for _, s := range []string{"chatfly-app", "<style>", "data-hide", "<img"} {
		assert.NotContains(t, page, s)
	}
	assert.Contains(t, page, `<title>chatfly</title>`)
	assert.Contains(t, page, `<a class="brand" href="#/">chatfly</a>`)
	policy = policyOf(t, page)
	assert.Contains(t, policy, "style-src 'self'; img-src 'self' data:; connect-src 'self';")

	// A logo without a name: its alternative text is the title.
	files, err := Files(&Options{Title: "Acme", Brand: Brand{Logo: "./logo.png"}})
	require.NoError(t, err)
	assert.Contains(t, string(files[0].Body), `<a class="brand" href="#/"><img src="./logo.png" alt="Acme" height="28"></a>`)
	assert.Contains(t, policyOf(t, string(files[0].Body)), "img-src 'self' data:;")
}

// TestLookOptionsRefused: what could carry CSS, markup or a script source
// into the page is an error, from Files and as a panic from Handler.
func TestLookOptionsRefused(t *testing.T) {
	for name, o := range map[string]Options{
		"unknown colour":        {Theme: map[string]string{"background": "#fff"}},
		"declaration break":     {Theme: map[string]string{"accent": "red; } body { display: none"}},
		"url in a colour":       {Theme: map[string]string{"accent": "url(https://evil.example/x)"}},
		"nested function":       {Theme: map[string]string{"accent": "rgb(var(--x))"}},
		"closing style":         {DarkTheme: map[string]string{"bg": "</style><script>"}},
		"quoted":                {Theme: map[string]string{"fg": `"red"`}},
		"expression":            {Theme: map[string]string{"fg": "expression(alert(1))"}},
		"empty colour":          {Theme: map[string]string{"fg": ""}},
		"bad hex":               {Theme: map[string]string{"fg": "#12345"}},
		"javascript logo":       {Brand: Brand{Logo: "javascript:alert(1)"}},
		"http logo":             {Brand: Brand{Logo: "http://cdn.example.com/logo.png"}},
		"protocol-relative":     {Modules: []string{"//evil.example/x.js"}},
		"data module":           {Modules: []string{"data:text/javascript,alert(1)"}},
		"bare module":           {Modules: []string{"nim.js"}},
		"module with a quote":   {Modules: []string{"/x.js'"}},
		"module host with ;":    {Modules: []string{"https://a.example;script-src *"}},
		"rooms hidden, no home": {Hide: Screens{Rooms: true}},
		"hidden home":           {Hide: Screens{Roulette: true}, Home: "roulette"},
		"home is the name":      {Home: "name"},
		"home is a link":        {Home: "r/abc"},
		"home with a hash":      {Home: "#/rooms"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Files(&o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "chatfly/web: ")
			assert.Panics(t, func() { Handler(&o) })
		})
	}
	for _, c := range []string{"#fff", "#ffff", "#a0b1c2", "#a0b1c2d3", "teal", "transparent", "rgb(0, 128, 255)", "rgba(0 0 0 / .5)", "hsl(120deg 50% 40%)", "oklch(62.8% 0.258 29.23)", "color(display-p3 1 0.5 0)"} {
		_, err := Files(&Options{Theme: map[string]string{"accent": c}})
		assert.NoError(t, err, c)
	}
	for _, home := range []string{"rooms", "roulette", "room/lobby", "rules", "leaderboard/week"} {
		_, err := Files(&Options{Home: home})
		assert.NoError(t, err, home)
	}
}

// TestThemeColors keeps Options.Theme's names those of app.css's :root.
func TestThemeColors(t *testing.T) {
	css := string(staticAssets()["/app.css"].body)
	root := css[strings.Index(css, ":root {"):strings.Index(css, "}")]
	var names []string
	for _, m := range regexp.MustCompile(`--([a-z-]+):`).FindAllStringSubmatch(root, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	want := slices.Clone(themeColors)
	slices.Sort(want)
	assert.Equal(t, want, names)
}
