#!/usr/bin/env python3
"""Render each man page with man(1) and compare the layout with what its
scdoc source says.  Usage: check-man-render.py SOURCE_DIR PAGE...

mandoc's linter (check-man.sh) finds malformed roff, not text that renders
wrongly.  Two such faults got through it: in siot-ctl(1) two example
commands ran into one filled line, and in siotd(8) a paragraph ran into the
literal block above it.  This test reads the .scd source beside each built
page and checks the page as man shows it (wide, so that nothing wraps):

  - each line of a literal block (``` fenced) is a line of its own, in
    order, and a blank line follows the block;
  - each line of an indented example (an indented block that follows a
    top-level paragraph or another example, after a blank line) starts a
    line of its own;
  - a top-level paragraph that follows a block starts after a blank line.
"""
import os
import re
import subprocess
import sys


def plain(text):
    """Source text as man shows it: scdoc's *bold* and _underline_ marks
    dropped, its escapes resolved, runs of spaces made one."""
    text = text.replace('\\*', '\0s').replace('\\_', '\0u')
    text = re.sub(r'(?<![A-Za-z0-9])\*([^*]+)\*', r'\1', text)
    text = re.sub(r'(?<![A-Za-z0-9])_([^_]+)_(?![A-Za-z0-9])', r'\1', text)
    text = text.replace('\0s', '*').replace('\0u', '_').replace('\\\\', '\\')
    text = text.replace('++', '')
    return ' '.join(text.split())


def render(page):
    env = dict(os.environ, MANWIDTH='400', MAN_KEEP_FORMATTING='', LC_ALL='C.UTF-8')
    out = subprocess.run(['man', '-l', '-E', 'UTF-8', page], capture_output=True, text=True,
                         env=env, check=True).stdout
    out = re.sub(r'.\x08', '', out)  # overstrike bold and underline
    # groff's typographic substitutions, back to what the source wrote.
    for a, b in (('\u2010', '-'), ('\u2212', '-'), ('\u2019', "'"), ('\u2018', '`'),
                 ('\u201c', '"'), ('\u201d', '"'), ('\u00a0', ' '), ('\u2022', '*')):
        out = out.replace(a, b)
    return [' '.join(line.split()) for line in out.split('\n')]


def blocks(source):
    """The source's structure: a list of (kind, lines) with kind one of
    'para' (top level), 'literal' (``` fenced), 'example' (indented, after a
    top-level paragraph) and 'indented' (any other indented block)."""
    out, cur, kind, fenced = [], [], None, False
    prev_kind = None

    def flush():
        nonlocal cur, kind, prev_kind
        if cur:
            out.append((kind, cur))
            prev_kind = kind
        cur, kind = [], None

    for line in source.split('\n'):
        if line.strip() == '```':
            if fenced:
                flush()
            else:
                flush()
                kind = 'literal'
            fenced = not fenced
            continue
        if fenced:
            cur.append(line)
            continue
        if not line.strip():
            flush()
            continue
        if line.startswith('#'):
            flush()
            out.append(('heading', [line]))
            prev_kind = 'heading'
            continue
        k = 'indented' if line.startswith('\t') else 'para'
        if kind and k != kind and not (kind == 'example' and k == 'indented'):
            flush()
            prev_kind = 'term'  # a term, its description below it with no blank line
        if not kind:
            kind = ('example' if k == 'indented' and prev_kind in ('para', 'example', 'literal')
                    else k)
        cur.append(line)
    flush()
    return out


def find_run(rendered, want, start):
    """Index where the lines want appear as consecutive rendered lines."""
    for i in range(start, len(rendered) - len(want) + 1):
        if rendered[i:i + len(want)] == want:
            return i
    return -1


def check(source_path, page):
    with open(source_path, encoding='utf-8') as f:
        parts = blocks(f.read())
    rendered = render(page)
    problems = []
    pos = 0
    after_block = False
    for kind, lines in parts:
        if kind == 'literal':
            # scdoc resolves backslash escapes in literal blocks too.
            want = [' '.join(re.sub(r'\\(.)', r'\1', line).split()) for line in lines]
            i = find_run(rendered, want, pos)
            if i < 0:
                problems.append('literal block not shown line for line: %r' % want[0])
                continue
            pos = i + len(want)
            if pos < len(rendered) and rendered[pos] != '':
                problems.append('no blank line after the block ending %r; the next line is %r'
                                % (want[-1], rendered[pos]))
            after_block = True
        elif kind == 'example':
            for line in lines:
                text = plain(line)
                i = next((k for k in range(pos, len(rendered)) if rendered[k].startswith(text)), -1)
                if i < 0:
                    problems.append('example line does not start a line of its own: %r' % text)
                    break
                pos = i + 1
            else:
                if pos < len(rendered) and rendered[pos] != '':
                    problems.append('no blank line after the example ending %r; the next line '
                                    'is %r' % (plain(lines[-1]), rendered[pos]))
            after_block = True
        elif kind == 'para':
            first = plain(lines[0]).split(' ')[:4]
            first = ' '.join(first)
            i = next((k for k in range(pos, len(rendered)) if first in rendered[k]), -1)
            if i < 0:
                after_block = False
                continue  # words man rewrites (tables, quotes): not this test's business
            if after_block and not rendered[i].startswith(first):
                problems.append('paragraph %r runs into the line before it: %r'
                                % (first, rendered[i]))
            elif after_block and i > 0 and rendered[i - 1] != '':
                problems.append('paragraph %r follows a block with no blank line' % first)
            pos = i
            after_block = False
        else:
            after_block = False
    return problems


def main(source_dir, pages):
    failed = False
    for page in pages:
        name = os.path.basename(page)
        problems = check(os.path.join(source_dir, name + '.scd'), page)
        for p in problems:
            print('%s: %s' % (name, p))
        failed |= bool(problems)
        if not problems:
            print('%s: renders as its source says' % name)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2:]))
