package main

import (
	"fmt"
	"strconv"
	"strings"
)

// This file is a parser for the subset of YAML that CloudFormation
// templates in this repository use: block mappings and sequences, plain and
// quoted scalars, flow sequences of scalars, literal block scalars (|) and
// the short forms of intrinsic functions (!Ref, !Sub, !GetAtt). Anything
// else (anchors, flow mappings, folded scalars, several documents) is an
// error, so the templates stay within what the checks understand. Scalars
// stay strings.

// tagged is a scalar or sequence with a local tag, such as !Ref X.
type tagged struct {
	Tag   string // "!Ref"
	Value any
}

type yamlLine struct {
	n      int    // line number, from 1
	indent int    // leading spaces
	text   string // without indentation and comment
	block  string // the literal block that follows "key: |", if any
}

// parseYAML parses src.
func parseYAML(src string) (any, error) {
	lines, err := yamlLines(src)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, nil
	}
	p := &yamlParser{lines: lines}
	v, err := p.block(lines[0].indent)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.lines) {
		return nil, p.errorf("unexpected line")
	}
	return v, nil
}

// yamlLines splits src into significant lines, gathering literal blocks.
func yamlLines(src string) ([]yamlLine, error) {
	raw := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	var out []yamlLine
	for i := 0; i < len(raw); i++ {
		s := raw[i]
		if strings.Contains(s, "\t") {
			return nil, fmt.Errorf("line %d: tab", i+1)
		}
		text := strings.TrimSpace(stripComment(s))
		if text == "" {
			continue
		}
		if text == "---" || text == "..." {
			return nil, fmt.Errorf("line %d: document markers are not supported", i+1)
		}
		l := yamlLine{n: i + 1, indent: len(s) - len(strings.TrimLeft(s, " ")), text: text}
		if strings.HasSuffix(text, ": |") || strings.HasSuffix(text, ": |-") {
			var b []string
			bi := -1
			for i+1 < len(raw) {
				next := raw[i+1]
				ni := len(next) - len(strings.TrimLeft(next, " "))
				if strings.TrimSpace(next) != "" && ni <= l.indent {
					break
				}
				i++
				if strings.TrimSpace(next) == "" {
					b = append(b, "")
					continue
				}
				if bi < 0 {
					bi = ni
				}
				if ni < bi {
					return nil, fmt.Errorf("line %d: literal block indentation", i+1)
				}
				b = append(b, next[bi:])
			}
			for len(b) > 0 && b[len(b)-1] == "" {
				b = b[:len(b)-1]
			}
			l.block = strings.Join(b, "\n")
			if strings.HasSuffix(text, "|") {
				l.block += "\n"
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// stripComment removes a comment that is not inside quotes.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return s[:i]
		}
	}
	return s
}

type yamlParser struct {
	lines []yamlLine
	i     int
}

func (p *yamlParser) errorf(format string, args ...any) error {
	if p.i < len(p.lines) {
		return fmt.Errorf("line %d: %s: %q", p.lines[p.i].n, fmt.Sprintf(format, args...), p.lines[p.i].text)
	}
	return fmt.Errorf("end of input: %s", fmt.Sprintf(format, args...))
}

func isItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

func (p *yamlParser) block(indent int) (any, error) {
	if p.lines[p.i].indent != indent {
		return nil, p.errorf("indentation")
	}
	if isItem(p.lines[p.i].text) {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func (p *yamlParser) sequence(indent int) ([]any, error) {
	var out []any
	for p.i < len(p.lines) && p.lines[p.i].indent == indent && isItem(p.lines[p.i].text) {
		l := p.lines[p.i]
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		var v any
		var err error
		switch {
		case rest == "":
			p.i++
			if p.i >= len(p.lines) || p.lines[p.i].indent <= indent {
				return nil, p.errorf("empty sequence item")
			}
			v, err = p.block(p.lines[p.i].indent)
		case mapKey(rest) != "":
			// "- key: value" starts a mapping at the column of key.
			p.lines[p.i] = yamlLine{n: l.n, indent: indent + len(l.text) - len(rest), text: rest, block: l.block}
			v, err = p.mapping(p.lines[p.i].indent)
		default:
			v, err = scalar(rest)
			p.i++
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if p.i < len(p.lines) && p.lines[p.i].indent > indent {
		return nil, p.errorf("unexpected indentation")
	}
	return out, nil
}

// mapKey returns the key of a "key: value" or "key:" line, or "".
func mapKey(text string) string {
	if text[0] == '"' || text[0] == '\'' || text[0] == '!' || text[0] == '[' {
		return ""
	}
	if i := strings.Index(text, ": "); i > 0 {
		return text[:i]
	}
	if strings.HasSuffix(text, ":") {
		return strings.TrimSuffix(text, ":")
	}
	return ""
}

func (p *yamlParser) mapping(indent int) (map[string]any, error) {
	m := make(map[string]any)
	for p.i < len(p.lines) && p.lines[p.i].indent == indent && !isItem(p.lines[p.i].text) {
		l := p.lines[p.i]
		key := mapKey(l.text)
		if key == "" {
			return nil, p.errorf("want key: value")
		}
		if _, dup := m[key]; dup {
			return nil, p.errorf("duplicate key %s", key)
		}
		rest := strings.TrimSpace(strings.TrimPrefix(l.text, key+":"))
		p.i++
		var v any
		var err error
		switch {
		case rest == "|" || rest == "|-":
			v = l.block
		case rest == "":
			if p.i < len(p.lines) && p.lines[p.i].indent > indent {
				v, err = p.block(p.lines[p.i].indent)
			}
		default:
			v, err = scalar(rest)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", l.n, err)
		}
		m[key] = v
	}
	if p.i < len(p.lines) && p.lines[p.i].indent > indent {
		return nil, p.errorf("unexpected indentation")
	}
	return m, nil
}

// scalar parses an inline value: a scalar, a flow sequence of scalars, or
// either with a tag.
func scalar(s string) (any, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", nil
	case s[0] == '!':
		tag, rest, _ := strings.Cut(s, " ")
		v, err := scalar(rest)
		return tagged{Tag: tag, Value: v}, err
	case s[0] == '[':
		if !strings.HasSuffix(s, "]") {
			return nil, fmt.Errorf("unterminated flow sequence %q", s)
		}
		inner := strings.TrimSpace(s[1 : len(s)-1])
		out := []any{}
		if inner == "" {
			return out, nil
		}
		for _, part := range strings.Split(inner, ",") {
			v, err := scalar(part)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case s[0] == '"':
		v, err := strconv.Unquote(s)
		if err != nil {
			return nil, fmt.Errorf("double-quoted scalar %s: %v", s, err)
		}
		return v, nil
	case s[0] == '\'':
		if len(s) < 2 || !strings.HasSuffix(s, "'") {
			return nil, fmt.Errorf("unterminated single-quoted scalar %s", s)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	case strings.ContainsAny(s[:1], "{&*>|%@`"):
		return nil, fmt.Errorf("unsupported YAML %q", s)
	}
	return s, nil
}
