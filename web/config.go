package web

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// themeColors are the names Options.Theme may set: the custom properties
// of app.css's :root (a test keeps them in step).
var themeColors = []string{"bg", "fg", "muted", "card", "line", "accent", "accent-fg", "mine", "ok", "warn", "error", "focus"}

// colour matches the CSS colours Options.Theme accepts. Inside a function
// only letters, digits and . % , / + - and spaces: nothing that can end
// the declaration, open a nested function or quote.
var colour = regexp.MustCompile(`^(?:#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})|[a-zA-Z]{1,32}|(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch|color)\([a-zA-Z0-9.%,/ +-]{1,100}\))$`)

// homeRoute matches Options.Home: a screen, and an optional room id.
var homeRoute = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}(?:/[A-Za-z0-9_-]{1,64})?$`)

// pageConfig is what the app's scripts read of the Options, as JSON in
// <meta name="chatfly-app">.
type pageConfig struct {
	Home       string   `json:"home,omitempty"`
	Identified bool     `json:"identified,omitempty"`
	Modules    []string `json:"modules,omitempty"`
}

// look is what the Options add to the page: the validated title, brand,
// theme, hidden screens and page configuration, and the sources the CSP
// must allow for them.
type look struct {
	title  string // the <title>
	brand  string // the header's home link, HTML
	style  string // the theme's <style> content, "" for none
	hide   string // the <html data-hide> value: "rooms create roulette games"
	config []byte // the <meta name="chatfly-app"> JSON, nil for the defaults
	// CSP sources added to script-src (modules), img-src (logo) and
	// style-src (the theme's hash, modules), each with a leading space.
	scripts, images, styles string
}

// lookOf validates the appearance options of opts.
func lookOf(opts *Options) (*look, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	l := &look{title: o.Title}
	if l.title == "" {
		l.title = "chatfly"
	}
	name, logo := o.Brand.Name, ""
	if o.Brand.Logo != "" {
		src, err := source("Brand.Logo", o.Brand.Logo)
		if err != nil {
			return nil, err
		}
		l.images = src
		alt := ""
		if name == "" {
			alt = l.title
		}
		logo = fmt.Sprintf(`<img src="%s" alt="%s" height="28">`, html.EscapeString(o.Brand.Logo), html.EscapeString(alt))
	} else if name == "" {
		name = l.title
	}
	l.brand = `<a class="brand" href="#/">` + logo + html.EscapeString(name) + `</a>`

	light, err := themeRule("Theme", o.Theme)
	if err != nil {
		return nil, err
	}
	dark, err := themeRule("DarkTheme", o.DarkTheme)
	if err != nil {
		return nil, err
	}
	if light != "" {
		l.style += "@media (prefers-color-scheme: light) {" + light + "}"
	}
	if dark != "" {
		l.style += "@media (prefers-color-scheme: dark) {" + dark + "}"
	}
	if l.style != "" {
		sum := sha256.Sum256([]byte(l.style))
		l.styles = " 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}

	var hide []string
	for _, s := range []struct {
		on   bool
		name string
	}{{o.Hide.Rooms, "rooms"}, {o.Hide.CustomRooms, "create"}, {o.Hide.Roulette, "roulette"}, {o.Hide.Games, "games"}} {
		if s.on {
			hide = append(hide, s.name)
		}
	}
	l.hide = strings.Join(hide, " ")
	if err := checkHome(o.Home, o.Hide); err != nil {
		return nil, err
	}

	cfg := pageConfig{Home: o.Home, Identified: o.IdentifiedUsers, Modules: o.Modules}
	var origins []string
	for _, m := range o.Modules {
		src, err := source("Modules", m)
		if err != nil {
			return nil, err
		}
		if src != "" && !slices.Contains(origins, src) {
			origins = append(origins, src)
		}
	}
	l.scripts = strings.Join(origins, "")
	l.styles += l.scripts // a module may bring its stylesheet
	if cfg.Home != "" || cfg.Identified || len(cfg.Modules) > 0 {
		if l.config, err = json.Marshal(cfg); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// checkHome validates Options.Home against the screens shown.
func checkHome(home string, hide Screens) error {
	switch {
	case home == "" && hide.Rooms:
		return fmt.Errorf("chatfly/web: Hide.Rooms needs a Home (\"roulette\", \"room/<id>\" or a module's screen)")
	case home == "":
		return nil
	case !homeRoute.MatchString(home) || home == "name" || strings.HasPrefix(home, "name/") || strings.HasPrefix(home, "r/"):
		return fmt.Errorf("chatfly/web: Home %q is not a screen (\"rooms\", \"roulette\", \"room/<id>\" or a module's screen)", home)
	case hide.Rooms && home == "rooms", hide.Roulette && home == "roulette":
		return fmt.Errorf("chatfly/web: Home %q is hidden", home)
	}
	return nil
}

// themeRule returns the :root rule that sets theme's colours, sorted by
// name, or "" for none.
func themeRule(field string, theme map[string]string) (string, error) {
	if len(theme) == 0 {
		return "", nil
	}
	names := make([]string, 0, len(theme))
	for k := range theme {
		if !slices.Contains(themeColors, k) {
			return "", fmt.Errorf("chatfly/web: %s: %q is not a colour of the app (%s)", field, k, strings.Join(themeColors, ", "))
		}
		if !colour.MatchString(theme[k]) {
			return "", fmt.Errorf("chatfly/web: %s[%q]: %q is not a CSS colour (#rgb, #rrggbb, a keyword such as teal, or rgb(…), hsl(…), oklch(…) of numbers)", field, k, theme[k])
		}
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(":root {")
	for _, k := range names {
		fmt.Fprintf(&b, " --%s: %s;", k, theme[k])
	}
	b.WriteString(" }")
	return b.String(), nil
}

// source validates the URL of a module or logo (field names the option)
// and returns what it adds to the CSP: nothing for a path on the page's
// host or relative to the page, else " https://host".
func source(field, u string) (string, error) {
	p, err := url.Parse(u)
	bad := err != nil || strings.ContainsAny(u, " \t\r\n\"'<>\\")
	switch {
	case bad:
	case p.Scheme == "" && p.Host == "" && (strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") || strings.HasPrefix(u, "./") || strings.HasPrefix(u, "../")):
		return "", nil
	case p.Scheme == "https" && p.Host != "" && p.User == nil && !strings.ContainsAny(p.Host, ";,"):
		return " https://" + p.Host, nil
	}
	return "", fmt.Errorf("chatfly/web: %s: %q is not a path (/x.js, ./x.js) or an https:// URL", field, u)
}
