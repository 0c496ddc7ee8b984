#!/usr/bin/python3
"""The man pages format without a warning (groff -man -ww, man --warnings)
and carry README.md's reference: tcpwatch(1) every command, alias and option
of the CLI and every name of README's "The CLI" and "End reasons";
tcpwatchd(8) every option of `tcpwatchd --help` and every name of README's
"The API", "Metrics", "Configuration", "The service" and "Security" (the
endpoints, fields, stats figures, metrics and keys written `like_this`).

Usage: test_manpages.py SRCDIR BINDIR"""

import os
import re
import shutil
import subprocess
import sys

# What a name README writes in backquotes looks like (not commands or JSON).
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_<>.-]*$|^--?[A-Za-z0-9][A-Za-z0-9-]*$")
ENDPOINT = re.compile(r"^(GET|POST|DELETE) /\S+$")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, flush=True)


def roff_text(path):
    """The page's source with the escapes a reader does not see resolved."""
    with open(path) as f:
        s = f.read()
    s = re.sub(r"\\f[BIRP]|\\&|\\\||\\%", "", s)
    for esc, ch in (("\\-", "-"), ("\\(dq", '"'), ("\\(aq", "'"), ("\\(*m", "u"), ("\\e", "\\"),
                    ("\\ ", " ")):
        s = s.replace(esc, ch)
    return s


def readme_sections(readme, titles):
    """The text of the `## TITLE` sections (up to the next `## `)."""
    out, keep = [], False
    for line in readme.splitlines():
        if line.startswith("## "):
            keep = line[3:].strip() in titles
        if keep:
            out.append(line)
    if not out:
        fail("README.md has none of the sections %s" % (titles,))
    return "\n".join(out)


def names_in(text):
    names = set()
    for tok in re.findall(r"`([^`\n]+)`", text):
        tok = tok.strip()
        if ENDPOINT.match(tok) or NAME.match(tok):
            names.add(tok)
    return names


def has(page, name):
    return re.search(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", page) is not None


def check_names(page_name, page, names, what):
    missing = sorted(n for n in names if not has(page, n))
    if missing:
        fail("%s lacks %d %s: %s" % (page_name, len(missing), what, missing))
    else:
        print("%s: all %d %s" % (page_name, len(names), what))


def check_format(path):
    r = subprocess.run(["groff", "-man", "-ww", "-z", path], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0 or r.stderr.strip():
        fail("groff -man -ww -z %s: exit %d: %s" % (path, r.returncode, r.stderr.strip()))
    if shutil.which("man"):
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANPAGER="cat", PAGER="cat")
        r = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                           timeout=30, env=env)
        if r.returncode != 0 or r.stderr.strip():
            fail("man --warnings -l %s: exit %d: %s" % (path, r.returncode, r.stderr.strip()))
        elif len(r.stdout) < 2000:
            fail("man -l %s renders only %d characters" % (path, len(r.stdout)))


def help_text(binary):
    r = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        fail("%s --help exited %d" % (binary, r.returncode))
    return r.stdout


def main():
    src, bindir = sys.argv[1], sys.argv[2]
    page1 = os.path.join(src, "docs", "man", "tcpwatch.1")
    page8 = os.path.join(src, "docs", "man", "tcpwatchd.8")
    with open(os.path.join(src, "README.md")) as f:
        readme = f.read()

    for p in (page1, page8):
        check_format(p)
    text1, text8 = roff_text(page1), roff_text(page8)

    # tcpwatchd(8): every option, every name of the daemon's reference.
    options = set(re.findall(r"^\s+(?:-\w, )?--([a-z][a-z0-9-]*)", help_text(
        os.path.join(bindir, "tcpwatchd")), re.M))
    options |= {"help", "version"}
    if len(options) < 20:
        fail("tcpwatchd --help lists only %s" % sorted(options))
    check_names("tcpwatchd.8", text8, {"--" + o for o in options}, "options of tcpwatchd --help")
    daemon_ref = readme_sections(readme, ("The API", "Metrics", "Configuration", "The service",
                                          "Security"))
    # A file key is its long option without the dashes (the page says so):
    # README's `retain-age` is the page's --retain-age.
    check_names("tcpwatchd.8", text8, {"--" + n if n in options else n
                                       for n in names_in(daemon_ref)},
                "names of README.md")

    # tcpwatch(1): every command and alias, every option, every name.
    cli_help = help_text(os.path.join(bindir, "tcpwatch"))
    commands = set()
    for m in re.finditer(r"^  ([a-z]+)(?:, ([a-z]+))?", cli_help, re.M):
        commands |= {c for c in m.groups() if c}
    if len(commands) < 8:
        fail("tcpwatch --help lists only the commands %s" % sorted(commands))
    check_names("tcpwatch.1", text1, commands | {"history"},
                "commands and aliases of tcpwatch --help")
    cli_ref = readme_sections(readme, ("The CLI", "End reasons"))
    cli_options = set(re.findall(r"(?<![\w-])(--?[a-zA-Z0-9][a-zA-Z0-9-]*)", cli_help))
    # The options in README's examples and prose, e.g. `tcpwatch list -a`.
    for code in re.findall(r"```\w*\n(.*?)```", cli_ref, re.S) + re.findall(r"`([^`\n]+)`",
                                                                             cli_ref):
        for line in code.splitlines():
            if line.lstrip().startswith("tcpwatch") or code.startswith("-"):
                cli_options |= set(re.findall(r"(?<![\w/:.-])(--?[a-zA-Z][a-zA-Z0-9-]*)",
                                              line.split("#")[0]))
    check_names("tcpwatch.1", text1, cli_options, "options of tcpwatch --help and README.md")
    check_names("tcpwatch.1", text1, names_in(cli_ref), "names of README.md")

    if failures:
        sys.exit(1)
    print("PASS: both pages format cleanly and carry the reference")


if __name__ == "__main__":
    main()
