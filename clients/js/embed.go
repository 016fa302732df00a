// Package js holds chatfly's browser client, the npm package @chatfly/client
// (README.md): chatfly.js and chatfly-gaps.js, the module it loads when it
// has messages to fetch. Its types (chatfly.d.ts), tests and docs live next
// to them and are not embedded.
//
// The Go package web serves these very files at /chatfly.js and
// /chatfly-gaps.js: one source for the npm package and the embedded app.
package js

import "embed"

// Files holds chatfly.js and chatfly-gaps.js at its root. It is read-only
// and safe for concurrent use.
//
//go:embed chatfly.js chatfly-gaps.js
var Files embed.FS
