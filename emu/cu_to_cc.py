#!/usr/bin/env python3
"""Turns a .cu file into C++ the host compiler builds against the CUDA emulator (emu/cuda_emu.h).

    python3 emu/cu_to_cc.py kernels/norm/cuda_rows.cu build-emu/cuda_rows.cc build-emu/cuda_rows.d

Three rewrites, nothing else changes (line numbers are kept, so compiler errors and the emulator's
messages point at the .cu source):
  * `kernel<<<grid, block, smem, stream>>>(args)`  ->
    `::smx_emu::launch(grid, block, smem, stream)([&]() { kernel(args); })`
  * `extern __shared__ [__align__(n)] T name[];`   ->  `T *name = (T *)::smx_emu::dynamic_smem();`
    (a declaration at file scope, unindented, becomes a macro with that value instead)
  * `#include "x.cuh"` found next to the file: the header is inlined, rewritten the same way, inside
    `#line` markers; other quoted includes found next to the file get their absolute path.
The depfile lists every file read, for meson/ninja.
"""
import os
import re
import sys

LAUNCH = re.compile(r"<<<(.*?)>>>", re.S)
DYN_SMEM = re.compile(
    r"extern\s+__shared__\s+(?:__align__\(\s*\d+\s*\)\s+)?([A-Za-z_][\w:\s\*]*?)\s+(\w+)\s*\[\s*\]\s*;?")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def kernel_start(text, end):
    """Start of the expression that names the kernel, ending at text[end] ('<<<')."""
    i = end
    while i > 0 and text[i - 1] in " \t\n":
        i -= 1
    while True:
        j = i
        if j > 0 and text[j - 1] in "]>)":
            close = text[j - 1]
            opener = {"]": "[", ">": "<", ")": "("}[close]
            depth, j = 0, j - 1
            while j >= 0:
                c = text[j]
                if c == close:
                    depth += 1
                elif c == opener:
                    depth -= 1
                    if depth == 0:
                        break
                j -= 1
            if j < 0:
                raise SystemExit(f"cu_to_cc: unbalanced '{close}' before a launch")
            i = j
            continue
        k = j
        while k > 0 and (text[k - 1].isalnum() or text[k - 1] == "_"):
            k -= 1
        if k == j:
            return i
        i = k
        # qualified or member access continues the expression
        if text[i - 2:i] in ("::", "->"):
            i -= 2
        elif i > 0 and text[i - 1] == ".":
            i -= 1
        else:
            return i


def call_end(text, open_paren):
    """Index just past the ')' matching text[open_paren] == '('."""
    depth, i, n = 0, open_paren, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":  # a string or character literal
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise SystemExit("cu_to_cc: a launch's argument list does not close")


def rewrite_launches(text):
    out, pos = [], 0
    for m in LAUNCH.finditer(text):
        if m.start() < pos:
            continue
        start = kernel_start(text, m.start())
        if start < pos:
            raise SystemExit("cu_to_cc: overlapping launches")
        kernel = text[start:m.start()].strip()
        if not kernel:
            raise SystemExit(f"cu_to_cc: a launch with no kernel expression near: {text[m.start():m.start() + 60]!r}")
        open_paren = m.end()
        while open_paren < len(text) and text[open_paren] in " \t\n":
            open_paren += 1
        if open_paren >= len(text) or text[open_paren] != "(":
            raise SystemExit(f"cu_to_cc: a launch without an argument list: {kernel}")
        end = call_end(text, open_paren)
        out.append(text[pos:start])
        out.append(f"::smx_emu::launch({m.group(1)})([&]() {{ {kernel}{text[open_paren:end]}; }})")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def rewrite_dynamic_smem(text):
    def repl(m):
        line_start = text.rfind("\n", 0, m.start()) + 1
        ty, name = " ".join(m.group(1).split()), m.group(2)
        if m.start() == line_start:  # file scope: every later use reads the launch's buffer
            return f"#define {name} (({ty} *)::smx_emu::dynamic_smem())"
        return f"{ty} *{name} = ({ty} *)::smx_emu::dynamic_smem();"
    return DYN_SMEM.sub(repl, text)


def convert(path, deps):
    path = os.path.abspath(path)
    deps.append(path)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    here = os.path.dirname(path)

    def include(m):
        name = m.group(1)
        local = os.path.join(here, name)
        if not os.path.isfile(local) and name.endswith(".cuh"):  # a path from the project root
            local = os.path.join(ROOT, name)
        if os.path.isfile(local) and name.endswith(".cuh"):
            body = convert(local, deps)
            back = text.count("\n", 0, m.end()) + 2  # the line after the directive
            return f'#line 1 "{os.path.abspath(local)}"\n{body}\n#line {back} "{path}"'
        if os.path.isfile(local):
            return m.group(0).replace(f'"{name}"', f'"{os.path.abspath(local)}"')
        return m.group(0)

    text = INCLUDE.sub(include, text)
    return rewrite_dynamic_smem(rewrite_launches(text))


def main():
    if len(sys.argv) != 4:
        raise SystemExit("usage: cu_to_cc.py IN.cu OUT.cc OUT.d")
    src, dst, depfile = sys.argv[1:]
    deps = []
    body = convert(src, deps)
    tmp = dst + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f'#line 1 "{os.path.abspath(src)}"\n{body}')
    os.replace(tmp, dst)
    with open(depfile, "w", encoding="utf-8") as f:
        f.write(f"{dst}: " + " ".join(d.replace(" ", "\\ ") for d in deps) + "\n")


if __name__ == "__main__":
    main()
